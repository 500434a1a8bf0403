/**
 * The libraries as someone else's Node project gets them: each built to dist/ (tsc), packed (npm pack),
 * installed from the tarballs — with their registry dependencies, peers included — into a scratch
 * project outside the workspace, and used there: the README's "Use as a library" script in plain
 * JavaScript (profile, a forward pass on wasm, ONNX export, onnxruntime-node), a data-parallel step
 * whose worker threads start from the installed runtime's dist/, and a strict TypeScript check of
 * a typed use against the installed .d.ts files.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
/** Every library, in stages of chains: stages one after another, a stage's chains side by side, each chain in order. */
const BUILD_STAGES = [[['random'], ['contracts']], [['backbone', 'training', 'cli-kit', 'runtime'], ['datasets']]];
const LIBRARIES = BUILD_STAGES.flat(2);

/** The environment without what `npm test` sets for its scripts (npm_config_*, npm_package_*), which would steer the inner npm. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'INIT_CWD'));
  return { ...env, ONNXRUNTIME_NODE_INSTALL: 'skip' }; // npm 10 runs onnxruntime-node's postinstall, which would fetch CUDA parts
}

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: cleanEnv() });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited with ${code}:\n${output}`))));
  });
}

/** The last line of the output that is a JSON object. */
function result(output: string): Record<string, number | string> {
  const line = output.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`no JSON result in the output:\n${output}`);
  return JSON.parse(line);
}

let scratch: string;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'mobilenets-consumer-'));
  for (const stage of BUILD_STAGES) {
    await Promise.all(stage.map(async (chain) => {
      for (const name of chain) {
        fs.rmSync(path.join(ROOT, 'packages', name, 'dist'), { recursive: true, force: true });
        await run(process.execPath, [TSC, '-p', path.join('packages', name, 'tsconfig.lib.json')], ROOT);
      }
    }));
  }
  await run('npm', ['pack', '--silent', '--pack-destination', scratch, ...LIBRARIES.flatMap((name) => ['-w', `@mobilenets/${name}`])], ROOT);
  fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({
    name: 'mobilenets-consumer',
    private: true,
    // npm >= 11.16: onnxruntime-node ships its CPU binaries; its postinstall would only fetch CUDA parts.
    allowScripts: { 'onnxruntime-node': false, protobufjs: false },
  }, null, 2));
  const tarballs = fs.readdirSync(scratch).filter((file) => file.endsWith('.tgz'));
  expect(tarballs.sort()).toEqual(LIBRARIES.map((name) => `mobilenets-${name}-0.1.0.tgz`).sort());
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs.map((file) => `./${file}`)], scratch);
  for (const file of fs.readdirSync(path.join(__dirname, 'consumer'))) fs.copyFileSync(path.join(__dirname, 'consumer', file), path.join(scratch, file));
}, 900_000);

afterAll(() => {
  if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
});

describe('the packed libraries, installed in a project outside the workspace', () => {
  it('resolve to their built dist/, JavaScript and types, and carry no tests', async () => {
    const script = `for (const n of ${JSON.stringify(LIBRARIES)}) console.log(require.resolve('@mobilenets/' + n));`;
    const resolved = (await run(process.execPath, ['-e', script], scratch)).trim().split('\n');
    LIBRARIES.forEach((name, i) => {
      const dir = fs.realpathSync(path.join(scratch, 'node_modules', '@mobilenets', name));
      expect(resolved[i]).toBe(path.join(dir, 'dist', 'index.js'));
      expect(fs.existsSync(path.join(dir, 'dist', 'index.d.ts'))).toBe(true);
    });
    const runtime = path.join(scratch, 'node_modules', '@mobilenets', 'runtime');
    expect(fs.existsSync(path.join(runtime, 'dist', 'parallel', 'worker-entry.js'))).toBe(true);
    const files = ['dist', 'src'].flatMap((dir) => fs.readdirSync(path.join(runtime, dir), { recursive: true }).map(String));
    expect(files.filter((file) => /\.test\.|testing\./.test(file))).toEqual([]);
  });

  it("run the README's script: profile, a forward pass on wasm, ONNX export, onnxruntime-node agrees", async () => {
    const script = fs.readFileSync(path.join(__dirname, 'consumer', 'library-usage.js'), 'utf8');
    expect(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain(script.trim()); // the README shows what runs here
    const output = await run(process.execPath, ['library-usage.js'], scratch);
    const { backend, multAdds, params, classes, sum, relativeDifference } = result(output);
    expect(backend).toBe('wasm');
    expect([multAdds, params]).toEqual([76_524_800, 1_320_648]);
    expect(classes).toBe(1000);
    expect(sum).toBeCloseTo(1, 4);
    expect(relativeDifference).toBeLessThan(1e-4); // max |tfjs − onnxruntime| / max probability
    expect(fs.existsSync(path.join(scratch, 'mobilenet_v1_0.5_160.onnx'))).toBe(true);
  });

  it('train one data-parallel step in two worker threads started from the installed dist/', async () => {
    const { workers, loss, examples } = result(await run(process.execPath, ['data-parallel.js'], scratch));
    expect(workers).toBe(2);
    expect(examples).toBe(4);
    expect(Number.isFinite(loss)).toBe(true);
    expect(loss).toBeGreaterThan(0);
  });

  it('type-check a strict TypeScript use against the installed .d.ts files', async () => {
    fs.writeFileSync(path.join(scratch, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { strict: true, skipLibCheck: true, module: 'node16', moduleResolution: 'node16', target: 'es2022', noEmit: true, types: [] },
      files: ['typed-usage.ts'],
    }));
    await run(process.execPath, [TSC, '-p', 'tsconfig.json'], scratch);
  });
});
