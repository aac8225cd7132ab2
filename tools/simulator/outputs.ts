import { OutputNames } from '../../common/contract.js';
import { StackOutputsError } from '../cli/errors.js';
import { DEFAULT_STACK_NAME, readOutputsFile, requireOutput } from '../cli/stack-outputs.js';
import { SimulatorConfigError } from './errors.js';

/** The outputs of a deployed stack that a simulated call needs. */
export interface StackOutputs {
  readonly answerUrl: string;
  readonly eventUrl: string;
  readonly recorderUrl?: string;
  readonly bucket?: string;
}

/** The stack name `cdk deploy --outputs-file` keys the outputs by. */
export const STACK_NAME = DEFAULT_STACK_NAME;

/**
 * Reads `cdk-outputs.json` (`{ "CallRecorder": { "AnswerUrl": …, "EventUrl": …, … } }`), the file
 * `cdk deploy --outputs-file cdk-outputs.json` writes, with the CLI's reader; its errors become
 * the simulator's configuration errors.
 */
export async function readStackOutputs(path: string, stackName: string = STACK_NAME): Promise<StackOutputs> {
  try {
    const outputs = await readOutputsFile(path, stackName, '');
    const source = `outputs file ${path} (stack ${stackName})`;
    return {
      answerUrl: requireOutput(outputs, OutputNames.answerUrl, source),
      eventUrl: requireOutput(outputs, OutputNames.eventUrl, source),
      ...(outputs.RecorderUrl ? { recorderUrl: outputs.RecorderUrl } : {}),
      ...(outputs.RecordingsBucketName ? { bucket: outputs.RecordingsBucketName } : {}),
    };
  } catch (error) {
    if (!(error instanceof StackOutputsError)) throw error;
    throw new SimulatorConfigError(error.message, undefined, { cause: error });
  }
}
