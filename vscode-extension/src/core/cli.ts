/**
 * The `smconnect` command line: found through the `smconnect.path` setting or PATH, and run for
 * the one-shot things the CLI already does well (starting the daemon, `doctor`).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export class SmconnectMissing extends Error {
  constructor(readonly configured: string | undefined) {
    super(
      configured
        ? `smconnect was not found at ${configured} (the smconnect.path setting)`
        : 'smconnect was not found on PATH; install it (pipx install <path to smconnect>) or set smconnect.path',
    );
  }
}

export interface Finder {
  env: NodeJS.ProcessEnv;
  home: string;
  platform: NodeJS.Platform;
  isExecutable?: (p: string) => boolean;
}

function isExecutableFile(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The smconnect to run: the setting (with `~` expanded), else the first on PATH. */
export function findSmconnect(setting: string | undefined, f: Finder): string {
  const ok = f.isExecutable ?? isExecutableFile;
  const configured = setting?.trim();
  if (configured) {
    const expanded = configured.startsWith('~/') ? path.join(f.home, configured.slice(2)) : configured;
    if (ok(expanded)) {
      return expanded;
    }
    throw new SmconnectMissing(configured);
  }
  const names = f.platform === 'win32' ? ['smconnect.exe', 'smconnect.cmd', 'smconnect'] : ['smconnect'];
  const dirs = (f.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  // pipx and `pip install --user` put scripts here, which a GUI-launched editor's PATH often lacks.
  dirs.push(path.join(f.home, '.local', 'bin'));
  for (const dir of dirs) {
    for (const name of names) {
      const candidate = path.join(dir, name);
      if (ok(candidate)) {
        return candidate;
      }
    }
  }
  throw new SmconnectMissing(undefined);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(
  exe: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(exe, args, {
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs,
      signal: opts.signal,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
}

/** The CLI's last `smconnect: …` line, which is the one-line reason it gives on failure. */
export function cliErrorLine(result: CliResult): string {
  const lines = result.stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines[lines.length - 1] ?? `exited with status ${result.code}`;
  return last.replace(/^smconnect:\s*/, '');
}
