import Table from 'cli-table3';
import { missingProblem, type RecordingRow } from './list.js';
import type { RecordingDetails } from './show.js';
import { formatBytes, formatSeconds } from './time.js';
import { CHECKS, type VerifyReport } from './verify.js';

/**
 * Plain tables: no colours, so piped output and tests read the same as a terminal, and no rule
 * between rows, so a long listing stays one line per recording.
 */
function table(head: string[]): Table.Table {
  return new Table({
    head,
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
}

const dash = (value: string | number | null | undefined) =>
  value === null || value === undefined ? '-' : String(value);

/** Columns of `recordings list`, shared by the table and CSV forms. */
const LIST_COLUMNS: ReadonlyArray<[string, (row: RecordingRow) => string]> = [
  ['started', (row) => row.startedAt],
  ['uuid', (row) => row.uuid],
  ['from', (row) => row.from ?? ''],
  ['to', (row) => row.to ?? ''],
  ['duration_seconds', (row) => (row.durationSeconds === null ? '' : String(row.durationSeconds))],
  ['wav_bytes', (row) => (row.wavBytes === null ? '' : String(row.wavBytes))],
  ['interrupted', (row) => (row.interrupted === null ? '' : String(row.interrupted))],
  ['ended_by', (row) => row.endedBy ?? ''],
  ['state', (row) => row.state],
];

export function formatListTable(rows: readonly RecordingRow[]): string {
  if (rows.length === 0) return 'No recordings match.';
  const missing = rows.filter((row) => row.state === 'missing');
  const out = table(['Started (UTC)', 'Call uuid', 'From', 'To', 'Duration', 'Size', 'Ended by', 'State']);
  for (const row of rows) {
    out.push([
      row.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      row.uuid,
      dash(row.from),
      dash(row.to),
      row.durationSeconds === null ? '-' : formatSeconds(row.durationSeconds),
      row.wavBytes === null ? '-' : formatBytes(row.wavBytes),
      row.endedBy === null ? '-' : `${row.endedBy}${row.interrupted ? ' (interrupted)' : ''}`,
      row.state,
    ]);
  }
  const count = rows.length - missing.length;
  const lines = [out.toString(), `${count} recording${count === 1 ? '' : 's'}`];
  if (missing.length > 0) {
    lines.push(`${missing.length} call${missing.length === 1 ? '' : 's'} with no recording:`);
    for (const row of missing) lines.push(`  ${row.uuid}: ${row.problem}`);
  }
  return lines.join('\n');
}

/** RFC 4180: quote a field holding a comma, quote or line break; double inner quotes. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export function formatListCsv(rows: readonly RecordingRow[]): string {
  const lines = [LIST_COLUMNS.map(([name]) => name).join(',')];
  for (const row of rows) lines.push(LIST_COLUMNS.map(([, get]) => csvField(get(row))).join(','));
  return lines.join('\n');
}

export function formatDetails(details: RecordingDetails): string {
  const { entry, metadata, events } = details;
  const lines: string[] = [];
  const facts = table(['Field', 'Value']);
  facts.push(['Call uuid', entry.uuid]);
  facts.push(['Audio', entry.wav ? `${entry.wav.key} (${formatBytes(entry.wav.size)})` : 'missing']);
  facts.push(['Metadata', entry.metadata ? entry.metadata.key : 'missing']);
  if (metadata && !metadata.ok) facts.push(['Metadata problem', metadata.reason]);
  if (metadata?.ok) {
    const m = metadata.metadata;
    facts.push(['Conversation uuid', dash(m.conversationUuid)]);
    facts.push(['From', dash(m.from)]);
    facts.push(['To', dash(m.to)]);
    facts.push(['Started', m.startedAt]);
    facts.push(['Ended', m.endedAt]);
    facts.push(['Duration', `${formatSeconds(m.durationSeconds)} (${m.durationSeconds} s)`]);
    facts.push(['Format', `${m.sampleRate} Hz, ${m.bitsPerSample}-bit, ${m.channels} channel`]);
    facts.push(['Audio bytes', `${m.audioBytes} (WAV ${m.wavBytes})`]);
    facts.push(['Frames', `${m.frameCount}${m.oddSizeFrames ? ` (${m.oddSizeFrames} of odd size)` : ''}`]);
    if (m.schemaVersion === 1) facts.push(['SHA-256', m.sha256]);
    else facts.push(['Audio SHA-256', m.audioSha256]);
    facts.push(['End', `${m.end.by}, code ${m.end.code}${m.end.reason ? ` "${m.end.reason}"` : ''}`]);
    facts.push(['Interrupted', m.interrupted ? 'yes' : 'no']);
    for (const text of m.textEvents) {
      facts.push([`Text event @${formatSeconds(text.offsetMs / 1000)}`, JSON.stringify(text.event)]);
    }
  }
  lines.push(facts.toString());
  if (metadata?.ok && !metadata.metadata.conversationUuid) {
    lines.push('No conversation uuid in the metadata: the call events cannot be found.');
  } else if (events.length === 0) {
    lines.push('No call events stored for this conversation.');
  } else {
    const trail = table(['Time', 'Leg uuid', 'Status', 'Direction', 'Details']);
    for (const { event } of events) {
      const extra: string[] = [];
      if (event.duration !== undefined) extra.push(`duration ${event.duration} s`);
      if (event.reason !== undefined) extra.push(`reason ${String(event.reason)}`);
      if (event.detail !== undefined) extra.push(`detail ${String(event.detail)}`);
      if (typeof event.to === 'string' && /^wss?:/.test(event.to)) extra.push('websocket leg');
      trail.push([
        dash(event.timestamp as string),
        dash(event.uuid as string),
        dash(event.status as string),
        dash(event.direction as string),
        extra.join(', '),
      ]);
    }
    lines.push(`Call events (${events.length}):`);
    lines.push(trail.toString());
  }
  return lines.join('\n');
}

export function formatVerifyReport(report: VerifyReport): string {
  const lines: string[] = [];
  const failures = table(['Call uuid', 'Check', 'Problem']);
  for (const recording of report.recordings) {
    for (const check of recording.checks) {
      if (check.status === 'fail') failures.push([recording.uuid, check.check, check.detail]);
    }
  }
  if (failures.length > 0) {
    lines.push('Failures:');
    lines.push(failures.toString());
  }
  const summary = table(['Check', 'Passed', 'Failed', 'Skipped']);
  for (const check of CHECKS) {
    const counts = report.summary[check];
    summary.push([check, String(counts.pass), String(counts.fail), String(counts.skip)]);
  }
  lines.push(summary.toString());
  const total = report.recordings.length;
  lines.push(
    report.failed === 0
      ? `${total} recording${total === 1 ? '' : 's'} verified: all checks passed.`
      : `${report.failed} of ${total} recording${total === 1 ? '' : 's'} failed verification.`,
  );
  if (report.missing.length > 0) {
    const missing = table(['Call uuid', 'Answered (UTC)', 'From', 'To', 'Problem']);
    for (const call of report.missing) {
      missing.push([call.uuid, dash(call.answeredAt), dash(call.from), dash(call.to), missingProblem(call)]);
    }
    lines.push(
      `Missing: ${report.missing.length} answered call${report.missing.length === 1 ? '' : 's'} with no recording:`,
    );
    lines.push(missing.toString());
  }
  return lines.join('\n');
}
