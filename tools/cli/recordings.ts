import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import { DEFAULT_CRASH_LOSS_BOUND_SECONDS } from '../../common/duration-tolerance.js';
import { downloadRecording, presignRecordingUrl } from './download.js';
import { CliError, ExitCode, UsageError } from './errors.js';
import { formatDetails, formatListCsv, formatListTable, formatVerifyReport } from './format.js';
import { type ListFilters, listRecordings } from './list.js';
import { type CliIo, runProgram } from './run.js';
import { LOCAL_S3_ENDPOINT, type RecordingsTarget, resolveTarget, type TargetFlags } from './s3-target.js';
import { showRecording } from './show.js';
import { parseDuration, parseInstant } from './time.js';
import { verifyRecordings } from './verify.js';

interface GlobalFlags extends TargetFlags {
  readonly json?: boolean;
}

const TARGET_HELP = `
Target: --bucket, else --local, else a deployed stack's RecordingsBucketName output (stack
CallRecorder unless --stack NAME; from CloudFormation, or from --outputs FILE). AWS targets use
the default credential chain (AWS_PROFILE, SSO, environment, instance role).

Examples:
  recordings list --local --from 2026-11-01 --caller 447700900000
  recordings list --stack CallRecorder --interrupted --csv > interrupted.csv
  recordings show 63f61863-4a51-4f6b-86e1-46edebcf9356
  recordings download 63f61863-4a51-4f6b-86e1-46edebcf9356 --out ./calls
  recordings url 63f61863-4a51-4f6b-86e1-46edebcf9356 --expires 1h
  recordings verify --since 7d
  recordings console --local`;

const LOCAL_S3_PORT = Number(new URL(LOCAL_S3_ENDPOINT).port);

/** Builds the `recordings` program. `run` resolves to the exit code. */
export function buildRecordingsProgram(io: CliIo): { program: Command; exitCode: () => number } {
  let exitCode: number = ExitCode.ok;
  const program = new Command('recordings')
    .description('Audit the call recordings in S3: list, show, download, share and verify them.')
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .option('--local', 'use the local stack (S3 http://127.0.0.1:4569, bucket recordings)')
    .option('--stack <name>', "read the bucket from this deployed stack's outputs (default CallRecorder)")
    .option('--outputs <file>', 'read the stack outputs from this cdk-outputs.json instead of CloudFormation')
    .option('--bucket <name>', 'the recordings bucket, directly')
    .option('--endpoint <url>', 'a custom S3 API endpoint')
    .option('--region <region>', "AWS region (default: AWS_REGION or the profile's)")
    .addHelpText('after', TARGET_HELP);

  const target = async (command: Command): Promise<RecordingsTarget> =>
    resolveTarget(command.optsWithGlobals<GlobalFlags>());
  const write = (text: string) => io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  const dayFlag = (value: string | undefined) =>
    value === undefined ? undefined : parseInstant(value, { flag: '--date' });

  program
    .command('list')
    .description('list recordings with their caller, callee, duration and state (every page of the bucket)')
    .option('--from <when>', 'started at or after: 2026-11-28, 2026-11-28T10:00:00Z, or 24h / 7d ago')
    .option('--to <when>', 'started at or before (a date means the end of that day)')
    .option('--caller <number>', 'caller number (E.164, + optional)')
    .option('--callee <number>', 'called number')
    .option('--uuid <uuid>', 'one call uuid')
    .option('--min-duration <duration>', 'at least this long: 30, 30s, 2m')
    .option('--max-duration <duration>', 'at most this long')
    .option('--interrupted', 'only calls whose recording did not end normally')
    .option('--missing', 'only calls Vonage answered and completed that have no recording')
    .addOption(new Option('--json', 'print JSON').conflicts('csv'))
    .option('--csv', 'print CSV')
    .action(async (flags: Record<string, string | boolean | undefined>, command: Command) => {
      const filters: ListFilters = {
        ...(typeof flags.from === 'string' ? { from: parseInstant(flags.from, { flag: '--from' }) } : {}),
        ...(typeof flags.to === 'string'
          ? { to: parseInstant(flags.to, { flag: '--to', endOfDay: true }) }
          : {}),
        ...(typeof flags.caller === 'string' ? { caller: flags.caller } : {}),
        ...(typeof flags.callee === 'string' ? { callee: flags.callee } : {}),
        ...(typeof flags.uuid === 'string' ? { uuid: flags.uuid } : {}),
        ...(typeof flags.minDuration === 'string'
          ? { minDurationSeconds: parseDuration(flags.minDuration, '--min-duration') }
          : {}),
        ...(typeof flags.maxDuration === 'string'
          ? { maxDurationSeconds: parseDuration(flags.maxDuration, '--max-duration') }
          : {}),
        ...(flags.interrupted ? { interrupted: true } : {}),
        ...(flags.missing ? { missing: true } : {}),
      };
      const { s3, bucket } = await target(command);
      const rows = await listRecordings(s3, bucket, filters);
      if (flags.json) write(JSON.stringify(rows, null, 2));
      else if (flags.csv) write(formatListCsv(rows));
      else write(formatListTable(rows));
    });

  program
    .command('show')
    .description("a recording's metadata and its call's event trail")
    .argument('<uuid>', 'call uuid')
    .option('--date <day>', 'the call start day (YYYY-MM-DD) to avoid a full bucket listing')
    .option('--json', 'print JSON')
    .action(async (uuid: string, flags: { date?: string; json?: boolean }, command: Command) => {
      const { s3, bucket } = await target(command);
      const day = dayFlag(flags.date);
      const details = await showRecording(s3, bucket, uuid, day ? { day } : {});
      write(flags.json ? JSON.stringify(details, null, 2) : formatDetails(details));
    });

  program
    .command('download')
    .description('download a recording (WAV and metadata JSON), checking its SHA-256')
    .argument('<uuid>', 'call uuid')
    .option('--out <dir>', 'folder to save into', '.')
    .option('--force', 'replace files already there')
    .option('--date <day>', 'the call start day (YYYY-MM-DD)')
    .action(
      async (uuid: string, flags: { out: string; force?: boolean; date?: string }, command: Command) => {
        const { s3, bucket } = await target(command);
        const day = dayFlag(flags.date);
        // cli-progress draws only on a terminal; piped runs get the summary line alone.
        const bar = new cliProgress.SingleBar(
          {
            stream: io.stderr,
            format: ' {bar} {percentage}% | {value}/{total} bytes | ETA {eta}s',
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        let started = false;
        try {
          const result = await downloadRecording(s3, bucket, uuid, {
            outDir: flags.out,
            ...(flags.force ? { force: true } : {}),
            ...(day ? { day } : {}),
            onStart: (total) => {
              bar.start(total, 0);
              started = true;
            },
            onProgress: (received) => bar.update(received),
          });
          if (started) bar.stop();
          started = false;
          write(
            `saved ${result.wavPath} (${result.bytes} bytes)${result.metadataPath ? ` and ${result.metadataPath}` : ''}`,
          );
          if (result.sha256Matches === false) {
            throw new CliError(
              `the download does not match its metadata (${result.digestDetail}): the object changed or is corrupt`,
            );
          }
        } finally {
          if (started) bar.stop();
        }
      },
    );

  program
    .command('url')
    .description("print a presigned URL to a recording's WAV")
    .argument('<uuid>', 'call uuid')
    .option('--expires <duration>', 'how long the URL works: 15m, 1h, 7d (at most 7d)', '1h')
    .option('--date <day>', 'the call start day (YYYY-MM-DD)')
    .option('--json', 'print JSON with the key and expiry')
    .action(
      async (uuid: string, flags: { expires: string; date?: string; json?: boolean }, command: Command) => {
        const seconds = parseDuration(flags.expires, '--expires');
        const { s3, bucket } = await target(command);
        const day = dayFlag(flags.date);
        const signed = await presignRecordingUrl(s3, bucket, uuid, seconds, day ? { day } : {});
        write(flags.json ? JSON.stringify(signed, null, 2) : signed.url);
      },
    );

  program
    .command('verify')
    .description(
      "check every recording: audio present and more than a header, metadata present, WAV header sizes, size and SHA-256 against the metadata, duration against Vonage's completed event (1 s, plus --checkpoint-seconds for a recovered recording); and list answered calls with no recording; exits 1 when any check fails or a call is missing",
    )
    .option('--since <when>', 'only calls started since: 2026-11-01, 2026-11-01T12:00:00Z, or 24h / 7d ago')
    .option('--uuid <uuid>', 'only this call')
    .option(
      '--checkpoint-seconds <seconds>',
      "the recorder's CHECKPOINT_SECONDS: how much shorter than Vonage's figure a recovered recording may be (plus 1 s)",
      String(DEFAULT_CRASH_LOSS_BOUND_SECONDS),
    )
    .option('--json', 'print the full report as JSON')
    .action(
      async (
        flags: { since?: string; uuid?: string; checkpointSeconds: string; json?: boolean },
        command: Command,
      ) => {
        const since = flags.since === undefined ? undefined : parseInstant(flags.since, { flag: '--since' });
        const crashLossBoundSeconds = parseDuration(flags.checkpointSeconds, '--checkpoint-seconds');
        const { s3, bucket } = await target(command);
        const bar = new cliProgress.SingleBar(
          { stream: io.stderr, format: ' verifying {bar} {value}/{total}', hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        let started = false;
        try {
          const report = await verifyRecordings(s3, bucket, {
            ...(since ? { since } : {}),
            ...(flags.uuid ? { uuid: flags.uuid } : {}),
            crashLossBoundSeconds,
            onProgress: (checked, total) => {
              if (!started) {
                bar.start(total, 0);
                started = true;
              }
              bar.update(checked);
            },
          });
          if (started) bar.stop();
          started = false;
          write(flags.json ? JSON.stringify(report, null, 2) : formatVerifyReport(report));
          if (!report.ok) exitCode = ExitCode.failure;
        } finally {
          if (started) bar.stop();
        }
      },
    );

  program
    .command('console')
    .description(
      'serve the audit console on 127.0.0.1 (find, play, verify and download recordings in a browser) until Ctrl-C',
    )
    .option('--port <port>', 'port on 127.0.0.1 (0 picks a free one)', '8090')
    .option(
      '--index-workgroup <name>',
      "search by number through this Athena workgroup (default: the stack's)",
    )
    .option('--index-database <name>', "Athena database of the bucket's S3 Metadata tables (b_<bucket>)")
    .option('--index-catalog <name>', 'Athena catalog of the S3 Metadata tables', 's3tablescatalog/aws-s3')
    .option('--index-endpoint <url>', 'a custom Athena API endpoint')
    .action(async (flags: ConsoleFlags, command: Command) => {
      const port = Number(flags.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) {
        throw new UsageError(`--port must be a port number (0-65535), got ${JSON.stringify(flags.port)}`);
      }
      // Loaded here: the other subcommands do not need the web server.
      const { startConsole } = await import('../console/console-server.js');
      const { openLocalBucket, portOpen } = await import('../console/local-bucket.js');
      const globals = command.optsWithGlobals<GlobalFlags>();
      // After `npm run demo` the local stack is down but its bucket is on disk: serve it from there.
      const fromDisk =
        globals.local && !globals.endpoint && !globals.bucket && !(await portOpen(LOCAL_S3_PORT))
          ? await openLocalBucket()
          : undefined;
      const chosen: RecordingsTarget = fromDisk ?? (await target(command));
      const { s3, bucket, description } = chosen;
      const search = await indexSearch(flags, globals, chosen.index);
      const running = await startConsole({
        s3,
        bucket,
        description,
        port,
        ...(search ? { search: search.make } : {}),
      }).catch(async (error: unknown) => {
        await fromDisk?.close();
        throw error;
      });
      write(`Audit console for ${description}`);
      if (search) write(`  searches by number through Athena workgroup ${search.workGroup}`);
      write(`  open ${running.url}`);
      write("  The link holds this start's access token: do not share it. Ctrl-C stops the console.");
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await running.close();
      await fromDisk?.close();
    });

  return { program, exitCode: () => exitCode };
}

interface ConsoleFlags {
  readonly port: string;
  readonly indexWorkgroup?: string;
  readonly indexDatabase?: string;
  readonly indexCatalog: string;
  readonly indexEndpoint?: string;
}

/** The index search the console uses: the flags' workgroup and database, else the stack outputs'. */
async function indexSearch(
  flags: ConsoleFlags,
  globals: GlobalFlags,
  fromOutputs: RecordingsTarget['index'],
) {
  if (Boolean(flags.indexWorkgroup) !== Boolean(flags.indexDatabase)) {
    throw new UsageError('--index-workgroup and --index-database go together');
  }
  const target = flags.indexWorkgroup
    ? {
        workGroup: flags.indexWorkgroup,
        database: flags.indexDatabase as string,
        catalog: flags.indexCatalog,
      }
    : fromOutputs;
  if (!target) return undefined;
  // Loaded here: only a console with an index needs the Athena client.
  const { AthenaClient } = await import('@aws-sdk/client-athena');
  const { IndexedSearch } = await import('../console/index-search.js');
  const athena = new AthenaClient({
    ...(globals.region ? { region: globals.region } : {}),
    ...(flags.indexEndpoint ? { endpoint: flags.indexEndpoint } : {}),
  });
  return {
    workGroup: target.workGroup,
    make: (listing: import('../console/recording-index.js').RecordingIndex) =>
      new IndexedSearch(listing, athena, target),
  };
}

/** Runs the CLI; resolves to the process exit code. Every error ends as one line on stderr. */
export async function runRecordingsCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { program, exitCode } = buildRecordingsProgram(io);
  return runProgram(program, argv, io, exitCode);
}
