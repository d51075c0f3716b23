/** Request counters, by status and by interaction. */
export interface SandboxStats {
  fhir: {
    /** Every FHIR request received (answered or dropped). */
    total: number;
    /** Answered FHIR requests by HTTP status ("200", "503", ...). */
    byStatus: Record<string, number>;
    /** Answered FHIR requests by interaction (read, create, update, transaction, ...; "fault" when a fault answered). */
    byInteraction: Record<string, number>;
    /** Connections destroyed by the dropRate fault. */
    dropped: number;
    /** Answers produced by the errorRate fault. */
    injectedErrors: number;
    /** Answers produced by the outage window. */
    outageRejections: number;
  };
  token: {
    total: number;
    byStatus: Record<string, number>;
  };
}

export class Stats {
  private s: SandboxStats = Stats.empty();

  static empty(): SandboxStats {
    return {
      fhir: { total: 0, byStatus: {}, byInteraction: {}, dropped: 0, injectedErrors: 0, outageRejections: 0 },
      token: { total: 0, byStatus: {} },
    };
  }

  fhirAnswered(status: number, interaction: string): void {
    this.s.fhir.total++;
    bump(this.s.fhir.byStatus, String(status));
    bump(this.s.fhir.byInteraction, interaction);
  }

  fhirDropped(): void {
    this.s.fhir.total++;
    this.s.fhir.dropped++;
  }

  fault(reason: 'outage' | 'injected'): void {
    if (reason === 'outage') {
      this.s.fhir.outageRejections++;
    } else {
      this.s.fhir.injectedErrors++;
    }
  }

  tokenAnswered(status: number): void {
    this.s.token.total++;
    bump(this.s.token.byStatus, String(status));
  }

  snapshot(): SandboxStats {
    return JSON.parse(JSON.stringify(this.s)) as SandboxStats;
  }

  reset(): void {
    this.s = Stats.empty();
  }
}

function bump(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}
