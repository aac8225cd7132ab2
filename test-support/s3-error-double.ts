import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the double answers: an S3 XML error, or an empty bucket listing. */
export type S3DoubleAnswer =
  | { readonly status: number; readonly code: string; readonly message: string }
  | { readonly status: 200 };

/**
 * A loopback HTTP server that speaks just enough of the S3 API to show who signed a request and
 * how an error reads: it records the access key of each SigV4 `Authorization` header and answers
 * every request with `answer`, an S3 error document (`<Error><Code>…</Code><Message>…</Message>`,
 * the message possibly empty, as some S3-compatible servers send it; no body on HEAD, as S3 does)
 * or an empty ListObjectsV2 result.
 */
export async function startS3ErrorDouble(answer: S3DoubleAnswer) {
  const accessKeys: string[] = [];
  const double = {
    answer,
    accessKeys,
    endpoint: '',
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer((request, response) => {
    request.resume();
    const credential = /Credential=([^/,\s]+)\//.exec(request.headers.authorization ?? '');
    accessKeys.push(credential?.[1] ?? '(unsigned)');
    const reply = double.answer;
    const body = !('code' in reply)
      ? '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>recordings</Name><KeyCount>0</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated></ListBucketResult>'
      : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${reply.code}</Code><Message>${reply.message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`;
    response.writeHead(reply.status, {
      'content-type': 'application/xml',
      'x-amz-request-id': '4442587FB7D0A2F9',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  double.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return double;
}
