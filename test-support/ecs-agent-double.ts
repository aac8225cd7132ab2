import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the ECS agent's task-protection endpoint, answering as the agent does
 * (amazon-ecs-agent, agent/handlers/agentapi/taskprotection/v1/handlers/handlers.go, and
 * https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-scale-in-protection-endpoint.html):
 * - `PUT /task-protection/v1/state` with `{"ProtectionEnabled": bool, "ExpiresInMinutes"?: 1–2880}`
 *   (unknown fields are refused, 400); protection defaults to 120 minutes;
 * - 200 `{"protection":{"ExpirationDate","ProtectionEnabled","TaskArn"}}`, ExpirationDate null
 *   when not protected, and protection lapses by itself at its expiry;
 * - ECS failures as 409 `{"failure":{"Arn","Detail","Reason"}}`: DEPLOYMENT_BLOCKED (more
 *   protected tasks than the service's desired count) and TASK_STOPPING_OR_STOPPED;
 * - exceptions as `{"error":{"Arn","Code","Message"}}` with their status.
 */
export interface EcsAgentDouble {
  readonly uri: string;
  readonly taskArn: string;
  /** Every request body, in order. */
  readonly requests: { method: string; body: unknown }[];
  /** What ECS holds for the task now (protection lapses at its expiry). */
  state(): { protectionEnabled: boolean; expiresAtMs: number | undefined };
  /** Make ECS refuse protection as it does when protected tasks outnumber the desired count. */
  blockDeployment(blocked: boolean): void;
  /** ECS has decided to stop the task. */
  stopTask(): void;
  /** The next requests fail with a throttling exception (HTTP 400, as the AWS API answers). */
  throttle(count: number): void;
  close(): Promise<void>;
}

export async function startEcsAgentDouble(now: () => number = Date.now): Promise<EcsAgentDouble> {
  const taskArn = 'arn:aws:ecs:us-east-1:111122223333:task/recorder-cluster/0123456789abcdef0123456789abcdef';
  const requests: { method: string; body: unknown }[] = [];
  let expiresAtMs: number | undefined;
  let blocked = false;
  let stopping = false;
  let throttled = 0;

  const protection = () => {
    if (expiresAtMs !== undefined && expiresAtMs <= now()) expiresAtMs = undefined;
    return {
      // The agent prints whole seconds: "2022-10-06T02:29:16Z".
      ExpirationDate:
        expiresAtMs === undefined ? null : new Date(expiresAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      ProtectionEnabled: expiresAtMs !== undefined,
      TaskArn: taskArn,
    };
  };

  const server: Server = createServer((request, response) => {
    let raw = '';
    request.on('data', (chunk) => {
      raw += chunk;
    });
    request.on('end', () => {
      const answer = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      const error = (status: number, code: string, message: string) =>
        answer(status, { requestID: 'req-1', error: { Arn: taskArn, Code: code, Message: message } });
      if (request.url !== '/task-protection/v1/state')
        return error(404, 'ResourceNotFoundException', 'not found');
      if (request.method === 'GET') {
        requests.push({ method: 'GET', body: undefined });
        return answer(200, { protection: protection() });
      }
      if (request.method !== 'PUT') return error(405, 'InvalidParameterException', 'method not allowed');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return error(400, 'InvalidParameterException', 'UpdateTaskProtection: failed to decode request');
      }
      requests.push({ method: 'PUT', body });
      if (Object.keys(body).some((key) => key !== 'ProtectionEnabled' && key !== 'ExpiresInMinutes'))
        return error(400, 'InvalidParameterException', 'UpdateTaskProtection: failed to decode request');
      if (typeof body.ProtectionEnabled !== 'boolean')
        return error(
          400,
          'InvalidParameterException',
          "Invalid request: does not contain 'ProtectionEnabled' field",
        );
      if (throttled > 0) {
        throttled--;
        return error(400, 'ThrottlingException', 'Rate exceeded');
      }
      if (stopping)
        return answer(409, { failure: { Arn: taskArn, Detail: null, Reason: 'TASK_STOPPING_OR_STOPPED' } });
      if (!body.ProtectionEnabled) {
        expiresAtMs = undefined;
        return answer(200, { protection: protection() });
      }
      const minutes = body.ExpiresInMinutes ?? 120;
      if (!Number.isInteger(minutes) || (minutes as number) < 1 || (minutes as number) > 2880)
        return error(400, 'InvalidParameterException', 'expiresInMinutes must be between 1 and 2880');
      if (blocked)
        return answer(409, { failure: { Arn: taskArn, Detail: null, Reason: 'DEPLOYMENT_BLOCKED' } });
      expiresAtMs = now() + (minutes as number) * 60_000;
      return answer(200, { protection: protection() });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    taskArn,
    requests,
    state: () => {
      const p = protection();
      return { protectionEnabled: p.ProtectionEnabled, expiresAtMs };
    },
    blockDeployment: (value) => {
      blocked = value;
    },
    stopTask: () => {
      stopping = true;
    },
    throttle: (count) => {
      throttled = count;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
