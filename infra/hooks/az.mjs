// @ts-check
/**
 * The Azure CLI and azd, as the hooks call them: always in the azd environment's subscription (and tenant), on
 * Windows and POSIX alike, with the CLI's own error text in every failure.
 */
import { spawnSync } from 'node:child_process';

/** A failure the operator can act on: printed as is, without a stack. */
export class HookError extends Error {}

/** A failed `az` command: its arguments and what the CLI printed on stderr. */
export class AzCommandError extends HookError {
  /**
   * @param {string[]} args
   * @param {number | null} status
   * @param {string} stderr
   */
  constructor(args, status, stderr) {
    const text = stderr.trim().split('\n').slice(-20).join('\n');
    super(`az ${args.filter((a) => !a.startsWith('-')).slice(0, 4).join(' ')} failed (exit ${status}):\n${text || '(no error text)'}`);
    this.stderr = stderr;
  }
}

/**
 * The named environment values, or a HookError naming every one that is missing.
 * @template {string} K
 * @param {NodeJS.ProcessEnv} env
 * @param {K[]} names
 * @returns {Record<K, string>}
 */
export function required(env, names) {
  const missing = names.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new HookError(`${missing.join(', ')} not set: run this through azd (azd up, azd provision, azd deploy), which passes its environment values`);
  }
  return /** @type {Record<K, string>} */ (Object.fromEntries(names.map((name) => [name, env[name]])));
}

const windows = process.platform === 'win32';

/**
 * cmd.exe quoting for one argument: `az` is a .cmd script on Windows, which Node only starts through a shell.
 * @param {string} arg
 */
export function quoteForCmd(arg) {
  return /^[\w.:/=@,+-]+$/.test(arg) ? arg : `"${arg.replace(/"/g, '""')}"`;
}

/**
 * Runs a command and returns its stdout; ENOENT becomes an install hint.
 * @param {string} command
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {{ status: number | null, stdout: string, stderr: string }}
 */
function run(command, args, env) {
  const result = windows
    ? spawnSync(`${command}`, args.map(quoteForCmd), { shell: true, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 })
    : spawnSync(command, args, { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) {
    const code = /** @type {NodeJS.ErrnoException} */ (result.error).code;
    if (code === 'ENOENT') throw new HookError(`${command} is not on PATH: install it (and sign in) before running azd`);
    throw new HookError(`${command} could not be started: ${result.error.message}`);
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * @typedef {'subscription' | 'tenant' | 'none'} Scope
 * @typedef {(args: string[], options?: { scope?: Scope }) => string} Az
 */

/**
 * An `az` bound to the azd environment: subscription-scoped commands get `--subscription AZURE_SUBSCRIPTION_ID`,
 * tenant-scoped ones (tokens) `--tenant AZURE_TENANT_ID` when known, so whatever `az account set` says is never used.
 * @param {NodeJS.ProcessEnv} env
 * @returns {Az}
 */
export function azFor(env) {
  const { AZURE_SUBSCRIPTION_ID: subscription } = required(env, ['AZURE_SUBSCRIPTION_ID']);
  const tenant = env.AZURE_TENANT_ID;
  return (args, options = {}) => {
    const scope = options.scope ?? 'subscription';
    const scoped =
      scope === 'subscription' ? [...args, '--subscription', subscription] : scope === 'tenant' && tenant ? [...args, '--tenant', tenant] : args;
    const result = run('az', [...scoped, '--only-show-errors'], env);
    if (result.status !== 0) throw new AzCommandError(scoped, result.status, result.stderr);
    return result.stdout.trim();
  };
}

/**
 * `azd env set NAME VALUE` for the environment azd runs the hook in.
 * @param {NodeJS.ProcessEnv} env
 * @param {string} name
 * @param {string} value
 */
export function azdEnvSet(env, name, value) {
  const args = ['env', 'set', name, value, ...(env.AZURE_ENV_NAME ? ['--environment', env.AZURE_ENV_NAME] : [])];
  const result = run('azd', args, env);
  if (result.status !== 0) throw new HookError(`azd env set ${name} failed (exit ${result.status}):\n${result.stderr.trim()}`);
}

/**
 * Runs npm (a .cmd script on Windows) in `cwd`, streaming its output.
 * @param {string[]} args
 * @param {string} cwd
 */
export function npm(args, cwd) {
  const result = spawnSync(windows ? 'npm.cmd' : 'npm', args, { cwd, stdio: 'inherit', shell: windows });
  if (result.status !== 0) throw new HookError(`npm ${args.join(' ')} failed (exit ${result.status})`);
}

/**
 * Tries `work` until it succeeds, it throws something `retryable` refuses, or `attempts` run out (then the last
 * error is thrown, with its own text).
 * @template T
 * @param {{ attempts: number, delayMs: number, retryable: (error: unknown) => boolean, onRetry?: (error: unknown, attempt: number) => void }} policy
 * @param {() => Promise<T> | T} work
 * @returns {Promise<T>}
 */
export async function retry(policy, work) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= policy.attempts || !policy.retryable(error)) throw error;
      policy.onRetry?.(error, attempt);
      await new Promise((done) => setTimeout(done, policy.delayMs));
    }
  }
}

/**
 * Seconds between retries: 10 unless HOOK_RETRY_DELAY_SECONDS says otherwise.
 * @param {NodeJS.ProcessEnv} env
 */
export function retryDelayMs(env) {
  const seconds = Number(env.HOOK_RETRY_DELAY_SECONDS ?? '10');
  if (!Number.isFinite(seconds) || seconds < 0) throw new HookError('HOOK_RETRY_DELAY_SECONDS must be a number of seconds');
  return seconds * 1000;
}

/**
 * True when an az failure's text matches `pattern` (anything else is not an az failure and is not retried).
 * @param {RegExp} pattern
 * @returns {(error: unknown) => boolean}
 */
export function azFailureMatching(pattern) {
  return (error) => error instanceof AzCommandError && pattern.test(error.stderr);
}
