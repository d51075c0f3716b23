import {
  optional,
  bool,
  ConfigError,
  describeSettings,
  httpUrl,
  int,
  list,
  loadConfig,
  oneOf,
  port,
  spec,
  text,
} from '../src';

const specs = {
  redisUrl: spec('REDIS_URL', 'Redis to use', undefined as string | undefined, text),
  port: spec('APP_PORT', 'HTTP port', 8080, port),
  mode: spec('APP_MODE', 'auth mode', 'smart' as 'smart' | 'off', oneOf('smart', 'off')),
  ehr: spec('EHR_BASE_URL', 'FHIR base URL of the EHR', undefined as string | undefined, httpUrl),
  verbose: spec('APP_VERBOSE', 'more logs', false, bool),
  scopes: spec('APP_SCOPES', 'scopes', ['system/*.read'], list),
  key: spec('APP_KEY', 'private key', '', text, true),
};

describe('loadConfig', () => {
  it('applies defaults and parses values', () => {
    const c = loadConfig(specs, { REDIS_URL: 'redis://x', EHR_BASE_URL: 'http://ehr/fhir/', APP_SCOPES: 'a b,c' });
    expect(c).toEqual({
      redisUrl: 'redis://x',
      port: 8080,
      mode: 'smart',
      ehr: 'http://ehr/fhir',
      verbose: false,
      scopes: ['a', 'b', 'c'],
      key: '',
    });
  });

  it('names every wrong setting at once, and hides secret values', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig(
        { ...specs, required: spec('MUST_HAVE', 'a required thing', undefined, text) },
        { APP_PORT: '70000', APP_MODE: 'maybe', EHR_BASE_URL: 'ftp://x', APP_VERBOSE: 'perhaps', APP_KEY: 'x' },
      );
    } catch (e) {
      error = e as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = error!.message;
    expect(message).toMatch(/APP_PORT must be a whole number from 0 to 65535 \(got "70000"\)/);
    expect(message).toMatch(/APP_MODE must be one of smart, off/);
    expect(message).toMatch(/EHR_BASE_URL must be an http:\/\/ or https:\/\/ URL/);
    expect(message).toMatch(/APP_VERBOSE must be true or false/);
    expect(message).toMatch(/MUST_HAVE is required: a required thing/);
    expect(error!.problems).toHaveLength(6);
  });

  it('optional settings may stay unset', () => {
    const c = loadConfig({ id: optional('CLIENT_ID', 'client id', text) }, {});
    expect(c.id).toBeUndefined();
  });

  it('int() bounds', () => {
    expect(int(1, 3)('2')).toBe(2);
    expect(() => int(1, 3)('4')).toThrow(/from 1 to 3/);
    expect(() => int(1, 3)('2.5')).toThrow();
  });

  it('describes settings as README table rows', () => {
    expect(describeSettings(specs)[1]).toBe('| `APP_PORT` | `8080` | HTTP port |');
    expect(describeSettings(specs)[0]).toBe('| `REDIS_URL` | (required) | Redis to use |');
  });
});
