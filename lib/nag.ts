import { type CfnElement, Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * How cdk-nag spells a reference to a resource inside a finding id, e.g. `<RecordingsBucketB0C8199F.Arn>`
 * (or `<RecorderClusterA3BD6403>` for a plain Ref). cdk-nag 3 acknowledges findings one by one,
 * so an acknowledgement has to name the exact resource it covers; computing the logical id keeps
 * it right when the construct tree moves.
 */
export function nagRef(resource: IConstruct, attribute?: string): string {
  const cfn = resource.node.defaultChild as CfnElement | undefined;
  if (!cfn) throw new Error(`${resource.node.path} has no CloudFormation resource to reference`);
  const logicalId = Stack.of(cfn).resolve(cfn.logicalId) as string;
  return attribute ? `<${logicalId}.${attribute}>` : `<${logicalId}>`;
}
