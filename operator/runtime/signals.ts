// Process signals as an AbortSignal, so main.ts hands one value to Manager.start and
// a second Ctrl-C still gets the operator out when a graceful stop hangs.
import type { Logger } from './log.ts';

/** An AbortSignal that aborts on the first SIGTERM or SIGINT; a second one exits the process at once. */
export function shutdownSignal(log: Logger, proc: NodeJS.Process = process): AbortSignal {
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) {
      log.warn({ signal: sig }, 'Second signal, exiting now');
      proc.exit(1);
    }
    log.info({ signal: sig }, 'Shutdown requested');
    ac.abort(new Error(`received ${sig}`));
  };
  proc.on('SIGTERM', onSignal);
  proc.on('SIGINT', onSignal);
  return ac.signal;
}
