/** Runs one of the workspace's CLIs the way a user does, through its npm bin script. */
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

const BINS = {
  mobilenet: 'apps/mobilenet/bin/mobilenet.js',
  'mobilenet-classify': 'apps/classify/bin/mobilenet-classify.js',
  'mobilenet-detect': 'apps/detect/bin/mobilenet-detect.js',
  'mobilenet-geo': 'apps/geo/bin/mobilenet-geo.js',
} as const;

const ROOT = path.join(__dirname, '..');

export function runCli(bin: keyof typeof BINS, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const result = spawnSync(process.execPath, [path.join(ROOT, BINS[bin]), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** {@link runCli} without blocking, so that independent runs can overlap. */
export function runCliAsync(bin: keyof typeof BINS, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, BINS[bin]), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 300_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** Runs `tasks` with at most `limit` at a time; results in task order. */
export async function inPool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
