// Detached processes with pid files, so `sim-down` (or a later `sim-up`) can find
// and stop what an earlier command started, and never leaves orphans behind.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

export interface ProcSpec {
  name: string;
  bin: string;
  args: string[];
  logFile: string;
  pidFile: string;
}

/** Starts a process in its own session (survives the starting command), stdout+stderr to its log. */
export function startProc(spec: ProcSpec): number {
  const fd = openSync(spec.logFile, 'a');
  try {
    const child = spawn(spec.bin, spec.args, { detached: true, stdio: ['ignore', fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${spec.name} (${spec.bin})`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n${spec.bin}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** The pid in a pid file if that process is alive and still runs the same binary. */
export function livePid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const [pidLine, bin] = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return undefined; // a zombie is as good as gone
    return bin && cmdline.startsWith(bin) ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** SIGTERM, wait (kube-apiserver takes 10-15 s to exit), then SIGKILL; removes the pid file. */
export async function stopProc(pidFile: string, graceMs = 30_000): Promise<boolean> {
  const pid = livePid(pidFile);
  if (pid === undefined) {
    rmSync(pidFile, { force: true });
    return false;
  }
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (livePid(pidFile) !== undefined && Date.now() < deadline) await sleep(100);
  if (livePid(pidFile) !== undefined) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    while (livePid(pidFile) !== undefined) await sleep(50);
  }
  rmSync(pidFile, { force: true });
  return true;
}

/** Resident set size of a pid in MiB (from /proc), or 0 when gone. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}
