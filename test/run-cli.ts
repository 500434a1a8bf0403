/** Runs one of the workspace's CLIs the way a user does, through its npm bin script. */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

const BINS = {
  mobilenet: 'apps/mobilenet/bin/mobilenet.js',
  'mobilenet-classify': 'apps/classify/bin/mobilenet-classify.js',
} as const;

export function runCli(bin: keyof typeof BINS, args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const root = path.join(__dirname, '..');
  const result = spawnSync(process.execPath, [path.join(root, BINS[bin]), ...args], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 300_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
