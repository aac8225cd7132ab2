import { readFile } from 'node:fs/promises';
import { CloudFormationClient, DescribeStacksCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { DEFAULT_STACK_NAME, type StackOutputName } from '../../common/contract.js';
import { StackOutputsError } from './errors.js';

export { DEFAULT_STACK_NAME };

/** The outputs the stack declares (common/contract.ts); tools read the ones they need. */
export type StackOutputKey = StackOutputName;

/** One stack's outputs, by output key. */
export type StackOutputs = Readonly<Record<string, string>>;

/**
 * Reads one stack's outputs from the file `cdk deploy --outputs-file` writes:
 * `{ "<StackName>": { "<OutputKey>": "<value>", … } }`.
 */
export async function readOutputsFile(
  path: string,
  stackName: string = DEFAULT_STACK_NAME,
  /** What else to try when the file is missing (the CLIs can read CloudFormation instead). */
  otherwise = 'or use --stack',
): Promise<StackOutputs> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new StackOutputsError(
        `outputs file ${path} not found: deploy with \`cdk deploy --outputs-file ${path}\`${otherwise ? ` ${otherwise}` : ''}`,
      );
    }
    throw new StackOutputsError(`cannot read outputs file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StackOutputsError(`outputs file ${path} is not JSON: ${(error as Error).message}`);
  }
  if (!isStringRecordOfRecords(parsed)) {
    throw new StackOutputsError(
      `outputs file ${path} is not a { "<stack>": { "<output>": "<value>" } } object`,
    );
  }
  const outputs = parsed[stackName];
  if (!outputs) {
    const stacks = Object.keys(parsed);
    throw new StackOutputsError(
      `outputs file ${path} has no stack ${stackName}${stacks.length ? ` (it has: ${stacks.join(', ')})` : ''}`,
    );
  }
  return outputs;
}

function isStringRecordOfRecords(value: unknown): value is Record<string, Record<string, string>> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.values(value).every(
    (inner) =>
      typeof inner === 'object' &&
      inner !== null &&
      !Array.isArray(inner) &&
      Object.values(inner).every((v) => typeof v === 'string'),
  );
}

/**
 * Reads a deployed stack's outputs through CloudFormation (default AWS credential chain and region,
 * or the client given).
 */
export async function readStackOutputs(
  stackName: string = DEFAULT_STACK_NAME,
  client: CloudFormationClient = new CloudFormationClient({}),
): Promise<StackOutputs> {
  let stacks: Stack[] | undefined;
  try {
    ({ Stacks: stacks } = await client.send(new DescribeStacksCommand({ StackName: stackName })));
  } catch (error) {
    const message = (error as Error).message;
    if (/does not exist/i.test(message)) {
      throw new StackOutputsError(`stack ${stackName} not found in CloudFormation (${message})`);
    }
    throw new StackOutputsError(`cannot read stack ${stackName} from CloudFormation: ${message}`);
  }
  const stack = stacks?.[0];
  if (!stack) throw new StackOutputsError(`stack ${stackName} not found in CloudFormation`);
  const outputs: Record<string, string> = {};
  for (const output of stack.Outputs ?? []) {
    if (output.OutputKey && output.OutputValue !== undefined) outputs[output.OutputKey] = output.OutputValue;
  }
  return outputs;
}

/** One output's value, or a StackOutputsError naming where it was looked for. */
export function requireOutput(outputs: StackOutputs, key: StackOutputKey, source: string): string {
  const value = outputs[key];
  if (!value) {
    const present = Object.keys(outputs);
    throw new StackOutputsError(
      `${source} has no ${key} output${present.length ? ` (it has: ${present.join(', ')})` : ''}`,
    );
  }
  return value;
}
