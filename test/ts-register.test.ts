import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * tools/ts-register.js's transpile cache: a module's JavaScript is kept on disk, TypeScript loads only
 * for a module the cache does not hold, an edited source is transpiled again (never a stale entry), a
 * folder that cannot be written only costs speed, and stack traces point into the TypeScript.
 */
describe('ts-register transpile cache', () => {
  const register = path.join(__dirname, '..', 'tools', 'ts-register.js');
  let tmp: string;
  let cache: string;
  let script: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ts-register-'));
    cache = path.join(tmp, 'cache');
    script = path.join(tmp, 'probe.ts');
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** The probe prints its value and whether the TypeScript compiler was loaded in its process. */
  const probe = (value: string) =>
    `const value: string = ${JSON.stringify(value)};\nconsole.log(JSON.stringify({ value, typescript: Object.keys(require.cache).some((k) => /[\\\\/]typescript[\\\\/]lib[\\\\/]typescript\\.js$/.test(k)) }));\n`;
  const run = (cacheDir = cache) => {
    const r = spawnSync(process.execPath, ['-r', register, script], { encoding: 'utf8', env: { ...process.env, MOBILENETS_TS_CACHE: cacheDir } });
    return { status: r.status, stderr: r.stderr, out: r.status === 0 ? JSON.parse(r.stdout) : null };
  };

  it('the second start reads the cache and never loads TypeScript; an edit is transpiled again', () => {
    fs.writeFileSync(script, probe('first'));
    expect(run().out).toEqual({ value: 'first', typescript: true });
    const entries = fs.readdirSync(cache);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatch(/^probe-[0-9a-f]{32}\.js$/);
    expect(run().out).toEqual({ value: 'first', typescript: false });

    fs.writeFileSync(script, probe('second'));
    expect(run().out).toEqual({ value: 'second', typescript: true });
    expect(fs.readdirSync(cache)).toHaveLength(2);
    expect(run().out).toEqual({ value: 'second', typescript: false });
  });

  it('a cache folder that cannot be written: modules still run, transpiled each time', () => {
    fs.writeFileSync(script, probe('x'));
    const blocked = path.join(tmp, 'a-file');
    fs.writeFileSync(blocked, '');
    const r = run(path.join(blocked, 'cache'));
    expect(r.stderr).toBe('');
    expect(r.out).toEqual({ value: 'x', typescript: true });
  });

  it('stack traces name the TypeScript line, from the cache as on the first start', () => {
    fs.writeFileSync(script, 'interface P { n: number }\nconst p: P = { n: 1 };\n\nfunction fail(): never {\n  throw new Error(`failed ${p.n}`);\n}\nfail();\n');
    for (let i = 0; i < 2; i++) {
      const r = run();
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(`${script}:5:9`);
    }
  });
});
