import { randomUUID } from 'node:crypto';
import { startAwsJsonServer } from './aws-json-server.js';

/**
 * Secrets Manager on the wire (JSON 1.1: `POST /` with `X-Amz-Target: secretsmanager.<Action>`),
 * for the two calls the stack makes and the one an operator rotates with:
 * - GetSecretValue by `SecretId` and optional `VersionStage` (default `AWSCURRENT`); a stage no
 *   version carries, or an unknown secret, answers 400 `ResourceNotFoundException`.
 * - PutSecretValue: the new value takes `AWSCURRENT`, the version that had it takes
 *   `AWSPREVIOUS`, as the service documents for a new secret value
 *   (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_PutSecretValue.html).
 * Signatures are not checked.
 */
export interface SecretsManagerDouble {
  /** Use as the client's endpoint (or `AWS_ENDPOINT_URL_SECRETS_MANAGER`). */
  readonly url: string;
  /** Every GetSecretValue, as `<SecretId> <VersionStage>`. */
  readonly reads: string[];
  /** Creates a secret (or a new current value of one) from here, as PutSecretValue does. */
  put(secretId: string, value: string): void;
  /** Makes every call fail with 500 until set back (an outage). */
  failing: boolean;
  close(): Promise<void>;
}

interface Version {
  readonly id: string;
  readonly value: string;
  stages: string[];
}

export async function startSecretsManagerDouble(): Promise<SecretsManagerDouble> {
  const secrets = new Map<string, Version[]>();
  const reads: string[] = [];

  function put(secretId: string, value: string): Version {
    const versions = secrets.get(secretId) ?? [];
    for (const version of versions) {
      version.stages = version.stages.filter((stage) => stage !== 'AWSPREVIOUS');
      if (version.stages.includes('AWSCURRENT')) version.stages = ['AWSPREVIOUS'];
    }
    const version = { id: randomUUID(), value, stages: ['AWSCURRENT'] };
    secrets.set(secretId, [...versions, version]);
    return version;
  }

  const notFound = (message: string) => [400, { __type: 'ResourceNotFoundException', message }] as const;

  function handle(target: string, input: Record<string, string>): readonly [number, unknown] {
    const secretId = input.SecretId ?? '';
    if (target === 'secretsmanager.GetSecretValue') {
      const stage = input.VersionStage ?? 'AWSCURRENT';
      reads.push(`${secretId} ${stage}`);
      const versions = secrets.get(secretId);
      if (!versions) return notFound("Secrets Manager can't find the specified secret.");
      const version = versions.find((candidate) => candidate.stages.includes(stage));
      if (!version) {
        return notFound(`Secrets Manager can't find the specified secret value for staging label: ${stage}`);
      }
      return [
        200,
        {
          ARN: secretId,
          Name: secretId.split(':').at(-1),
          SecretString: version.value,
          VersionId: version.id,
          VersionStages: version.stages,
          CreatedDate: 1_700_000_000,
        },
      ];
    }
    if (target === 'secretsmanager.PutSecretValue') {
      if (!secrets.has(secretId)) return notFound("Secrets Manager can't find the specified secret.");
      const version = put(secretId, input.SecretString ?? '');
      return [
        200,
        {
          ARN: secretId,
          Name: secretId.split(':').at(-1),
          VersionId: version.id,
          VersionStages: version.stages,
        },
      ];
    }
    return [400, { __type: 'InvalidRequestException', message: `not supported here: ${target}` }];
  }

  const double = {} as SecretsManagerDouble;
  const server = await startAwsJsonServer((target, input) =>
    double.failing
      ? [500, { __type: 'InternalServiceError', message: 'outage' }]
      : handle(target, input as Record<string, string>),
  );
  Object.assign(double, {
    url: server.url,
    reads,
    failing: false,
    put: (secretId: string, value: string) => {
      put(secretId, value);
    },
    close: server.close,
  });
  return double;
}
