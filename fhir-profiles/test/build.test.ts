/**
 * The committed build (fhir-profiles/build) is what the validator and the gateway load: it must exist, have
 * snapshots, and match what the FSH compiles to today.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { BUILD_DIR, EXTENSION_URLS, loadConformanceBundle, PROFILE_URLS } from '../src';
import { buildProfiles, diffBuilds, inputsDigest } from '../scripts/lib/build-profiles';

const bundle = loadConformanceBundle();
const resources = (bundle.entry ?? []).map((e) => e.resource!);
const sds = resources.filter((r): r is StructureDefinition => r.resourceType === 'StructureDefinition');
const valueSets = resources.filter((r): r is ValueSet => r.resourceType === 'ValueSet');

describe('fhir-profiles build output', () => {
  test('is current: a fresh offline SUSHI build of the FSH produces byte-identical files', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fhir-profiles-test-'));
    try {
      const report = await buildProfiles({ outDir: tmp });
      expect(report.warnings).toEqual([]);
      const stale = diffBuilds(BUILD_DIR, tmp);
      // If this fails: run `pnpm --filter @marrowbridge/fhir-profiles build` and commit fhir-profiles/build.
      expect(stale).toEqual([]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  test('manifest records the digest of the current FSH inputs', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(BUILD_DIR, 'manifest.json'), 'utf8')) as {
      inputsSha256: string;
    };
    expect(manifest.inputsSha256).toBe(inputsDigest());
  });

  test('holds the six contract profiles and two extensions at their canonical URLs', () => {
    const urls = sds.map((s) => s.url).sort();
    expect(urls).toEqual([...Object.values(PROFILE_URLS), ...Object.values(EXTENSION_URLS)].sort());
    for (const sd of sds) {
      expect(sd.url).toBe(`http://marrowbridge.org/fhir/StructureDefinition/${sd.id}`);
      expect(sd.fhirVersion).toBe('4.0.1');
    }
  });

  test('every StructureDefinition has a snapshot that covers its differential', () => {
    for (const sd of sds) {
      const ids = new Set(sd.snapshot?.element.map((e) => e.id));
      expect(sd.snapshot?.element.length).toBeGreaterThanOrEqual(sd.differential?.element.length ?? 1);
      for (const d of sd.differential?.element ?? []) expect(ids).toContain(d.id);
    }
  });

  test('every extension slice is unfolded: its url child carries the extension URL as fixedUri', () => {
    let slices = 0;
    for (const sd of sds) {
      const els = sd.snapshot!.element;
      for (const e of els) {
        const profile = e.type?.[0]?.code === 'Extension' ? e.type[0].profile?.[0] : undefined;
        if (!e.sliceName || !profile) continue;
        slices++;
        const url = els.find((c) => c.id === `${e.id}.url`);
        expect(url?.fixedUri).toBe(profile);
        expect(els.find((c) => c.id === `${e.id}.value[x]`)?.binding?.strength).toBe('required');
      }
    }
    // bodySite laterality + qualifier on ServiceRequest, Procedure and both Specimen profiles.
    expect(slices).toBe(8);
  });

  test('every ValueSet is expanded locally and every binding of the profiles resolves to one of them', () => {
    const byUrl = new Map(valueSets.map((v) => [v.url, v]));
    for (const vs of valueSets) {
      expect(vs.expansion?.contains?.length).toBeGreaterThan(0);
      expect(vs.expansion?.total).toBe(vs.expansion?.contains?.length);
    }
    for (const sd of sds) {
      for (const e of sd.differential?.element ?? []) {
        if (e.binding?.valueSet) expect(byUrl.has(e.binding.valueSet)).toBe(true);
      }
    }
    expect(
      byUrl.get('http://marrowbridge.org/fhir/ValueSet/bma-body-sites')?.expansion?.contains?.map((c) => c.code),
    ).toEqual(['22356005', '56873002', '12611008']);
  });

  test('writes a readable page per profile and extension listing its invariants and bindings', () => {
    for (const sd of sds) {
      const doc = fs.readFileSync(path.join(BUILD_DIR, 'docs', `${sd.id}.md`), 'utf8');
      expect(doc).toContain(`# ${sd.title}`);
      expect(doc).toContain('## All rules');
      for (const e of sd.differential?.element ?? []) {
        for (const c of e.constraint ?? []) expect(doc).toContain(c.key);
        if (e.binding?.valueSet) expect(doc).toContain(e.binding.valueSet);
      }
    }
    const index = fs.readFileSync(path.join(BUILD_DIR, 'docs', 'README.md'), 'utf8');
    for (const sd of sds) expect(index).toContain(`(${sd.id}.md)`);
  });
});
