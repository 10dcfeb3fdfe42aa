import { randomUUID } from 'node:crypto';
import type { HostLogger } from './logger.js';
import { toLogLevel } from './logger.js';
import type { AppRegistry, RegisteredFunction, RpcTypedData } from './registry.js';

export interface InvocationInput {
  /** Chosen by the caller when something else must carry it (the HTTP stream proxy's x-ms-invocation-id). */
  invocationId?: string;
  /** The trigger's data, in the worker protocol's typed-data form. */
  trigger: RpcTypedData;
  /** Extra input bindings by binding name (e.g. the durable client). */
  extraInputs?: Record<string, RpcTypedData>;
  triggerMetadata?: Record<string, RpcTypedData>;
}

export interface InvocationResult {
  invocationId: string;
  /** The library's InvocationContext, after the call (durable wrappers leave state on it). */
  context: Record<string, unknown>;
  returnValue?: RpcTypedData;
  /** The function returned something (with HTTP streams the library sends that response itself). */
  returned: boolean;
  error?: unknown;
  durationMs: number;
}

/** Calls functions through the app's ProgrammingModel exactly as the Node worker does. */
export class Invoker {
  constructor(
    private readonly registry: AppRegistry,
    private readonly logger: HostLogger,
    private readonly timeoutMs: number,
    /** Inputs every invocation of a function gets whatever its trigger (the durable client binding). */
    private readonly bindingInputs: (fn: RegisteredFunction) => Record<string, RpcTypedData> = () => ({}),
  ) {}

  async invoke(fn: RegisteredFunction, input: InvocationInput): Promise<InvocationResult> {
    const invocationId = input.invocationId ?? randomUUID();
    const started = performance.now();
    const inputData = [{ name: fn.triggerName, data: input.trigger }];
    for (const [name, data] of Object.entries({ ...this.bindingInputs(fn), ...input.extraInputs })) inputData.push({ name, data });
    const coreContext = {
      invocationId,
      metadata: fn.metadata,
      request: { inputData, triggerMetadata: input.triggerMetadata ?? {} },
      state: undefined as string | undefined,
      log: (level: string, category: string, message: string) => {
        this.logger.log(toLogLevel(level), message, { function: fn.name, category, invocationId });
      },
    };
    const model = this.registry.programmingModel.getInvocationModel(coreContext);
    let args: Awaited<ReturnType<typeof model.getArguments>>;
    try {
      args = await model.getArguments();
    } catch (error) {
      // e.g. trigger data the library cannot convert: a failed invocation, never a crash of the host
      return { invocationId, context: {}, error, returned: false, durationMs: performance.now() - started };
    }
    const { context, inputs } = args;
    // Hook contexts as the worker builds them; the library wraps them in Pre/PostInvocationContext.
    const pre = { invocationContext: context, inputs, functionCallback: fn.callback, hookData: {} as Record<string, unknown> };
    let result: unknown;
    let error: unknown;
    try {
      coreContext.state = 'preInvocationHooks';
      await this.runHooks('preInvocation', pre);
      coreContext.state = 'invocation';
      result = await withTimeout(model.invokeFunction(context, pre.inputs, pre.functionCallback), this.timeoutMs, fn.name);
    } catch (caught) {
      error = caught;
    }
    const post = { invocationContext: context, inputs: pre.inputs, result, error, hookData: pre.hookData };
    const returned = () => post.result !== undefined && post.result !== null;
    try {
      coreContext.state = 'postInvocationHooks';
      await this.runHooks('postInvocation', post);
      if (post.error !== undefined) throw post.error;
      const response = await model.getResponse(context, post.result);
      return { invocationId, context, returnValue: response.returnValue, returned: returned(), durationMs: performance.now() - started };
    } catch (caught) {
      return { invocationId, context, error: caught, returned: returned(), durationMs: performance.now() - started };
    }
  }

  /** Runs `app.hook.*` callbacks of one kind in registration order. */
  async runHooks(name: string, context: Record<string, unknown>): Promise<void> {
    for (const hook of this.registry.hooks.get(name) ?? []) await hook(context);
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timeout value of ${Math.round(ms / 1000)}s exceeded by function 'Functions.${name}'`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function functionsByTrigger(registry: AppRegistry, type: string): RegisteredFunction[] {
  return registry.functions.filter((fn) => fn.trigger.type.toLowerCase() === type.toLowerCase());
}

export function findFunction(registry: AppRegistry, type: string, name: string): RegisteredFunction | undefined {
  return functionsByTrigger(registry, type).find((fn) => fn.name.toLowerCase() === name.toLowerCase());
}

/** Why a function of that name is not running, when the host disabled it at start. */
export function disabledReason(registry: AppRegistry, name: string): string | undefined {
  const found = registry.disabled?.find((fn) => fn.name.toLowerCase() === name.toLowerCase());
  return found && `function "${found.name}" is disabled: ${found.reason}`;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
