import { readFile } from 'node:fs/promises';
import { SimulatorConfigError } from './errors.js';

/** The outputs of a deployed stack that a simulated call needs. */
export interface StackOutputs {
  readonly answerUrl: string;
  readonly eventUrl: string;
  readonly recorderUrl?: string;
  readonly bucket?: string;
}

/** The stack name `cdk deploy --outputs-file` keys the outputs by. */
export const STACK_NAME = 'CallRecorder';

/**
 * Reads `cdk-outputs.json` (`{ "CallRecorder": { "AnswerUrl": …, "EventUrl": …, … } }`), the file
 * `cdk deploy --outputs-file cdk-outputs.json` writes.
 */
export async function readStackOutputs(path: string, stackName: string = STACK_NAME): Promise<StackOutputs> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new SimulatorConfigError(
      `cannot read stack outputs ${path} (${(error as NodeJS.ErrnoException).code ?? String(error)}): expected the file written by cdk deploy --outputs-file`,
      undefined,
      { cause: error },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SimulatorConfigError(
      `stack outputs ${path} are not JSON: expected {"${stackName}":{"AnswerUrl":"…","EventUrl":"…"}}`,
    );
  }
  const stack = (parsed as Record<string, unknown> | null)?.[stackName] as
    | Record<string, unknown>
    | undefined;
  const answerUrl = stack?.AnswerUrl;
  const eventUrl = stack?.EventUrl;
  if (typeof answerUrl !== 'string' || typeof eventUrl !== 'string') {
    throw new SimulatorConfigError(
      `stack outputs ${path} have no ${stackName}.AnswerUrl and ${stackName}.EventUrl: expected {"${stackName}":{"AnswerUrl":"…","EventUrl":"…"}}`,
    );
  }
  return {
    answerUrl,
    eventUrl,
    ...(typeof stack?.RecorderUrl === 'string' ? { recorderUrl: stack.RecorderUrl } : {}),
    ...(typeof stack?.RecordingsBucketName === 'string' ? { bucket: stack.RecordingsBucketName } : {}),
  };
}
