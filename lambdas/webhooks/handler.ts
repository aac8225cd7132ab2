import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';

// Placeholder: replaced by the webhooks implementation.
export async function handler(_event: APIGatewayProxyEventV2): Promise<APIGatewayProxyResultV2> {
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: '[]' };
}
