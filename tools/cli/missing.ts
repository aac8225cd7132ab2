import type { S3Client } from '@aws-sdk/client-s3';
import { datePath, EVENTS_PREFIX } from '../../common/recording-keys.js';
import { listObjects } from '../../common/s3-objects.js';
import { listCallEvents } from '../../common/stored-calls.js';
import { summarizeCallEvents } from '../../common/vonage-call-events.js';
import { type DayRange, listRecordingEntries, mapLimit } from './recording-store.js';

/**
 * Calls Vonage answered and completed (per the events the webhook stored) that have no recording:
 * what the reconciler reports as `Recording Missing`, found by reading the bucket.
 */
export interface MissingCall {
  readonly uuid: string;
  readonly conversationUuid: string;
  /** ISO 8601: when Vonage answered the call. */
  readonly answeredAt: string | null;
  readonly from: string | null;
  readonly to: string | null;
  /** Vonage's `completed` duration of the call leg. */
  readonly vonageDurationSeconds: number | null;
  /** `never-connected`: no websocket leg reached the recorder; `not-stored`: one did, nothing was stored. */
  readonly reason: 'never-connected' | 'not-stored';
}

const DAY_MS = 86_400_000;

/** `events/YYYY/MM/DD/<conversation>/<timestamp>_<leg>_<status>.json` → its parts. */
function parseEventKey(
  key: string,
): { conversationUuid: string; legUuid: string; status: string } | undefined {
  const match = /^events\/\d{4}\/\d{2}\/\d{2}\/([^/]+)\/[^_/]+_([^_/]+)_([^/]+)\.json$/.exec(key);
  if (!match) return undefined;
  const [, conversationUuid, legUuid, status] = match as unknown as [string, string, string, string];
  return { conversationUuid, legUuid, status };
}

/** The event keys of the days in the range, in key order: one listing from the first day's folder. */
async function* eventKeys(s3: S3Client, bucket: string, range: DayRange): AsyncGenerator<string> {
  const lastDay = range.to ? datePath(range.to) : undefined;
  const objects = listObjects(s3, bucket, EVENTS_PREFIX, {
    ...(range.from ? { startAfter: `${EVENTS_PREFIX}${datePath(range.from)}/` } : {}),
  });
  for await (const object of objects) {
    // Keys sort by day: past the range's last day nothing later can match.
    if (lastDay && object.key.slice(EVENTS_PREFIX.length, EVENTS_PREFIX.length + 10) > lastDay) break;
    yield object.key;
  }
}

/**
 * Finds answered, completed calls without a recording whose events fall in the range. Only the
 * key listing is read for calls that have a recording (a recording is keyed by its call leg's
 * uuid, which the event keys name); the events of the other conversations are read to tell the
 * call leg from the websocket leg and whether Vonage answered.
 */
export async function findMissingCalls(
  s3: S3Client,
  bucket: string,
  range: DayRange = {},
  /** Call uuids known to have a recording; with no range, taken as every recording there is. */
  known?: ReadonlySet<string>,
): Promise<MissingCall[]> {
  const completedLegs = new Map<string, Set<string>>();
  const conversationDays = new Map<string, Set<string>>();
  for await (const key of eventKeys(s3, bucket, range)) {
    const parsed = parseEventKey(key);
    if (!parsed) continue;
    const days = conversationDays.get(parsed.conversationUuid) ?? new Set<string>();
    days.add(key.slice(EVENTS_PREFIX.length, EVENTS_PREFIX.length + 10));
    conversationDays.set(parsed.conversationUuid, days);
    if (parsed.status !== 'completed') continue;
    const legs = completedLegs.get(parsed.conversationUuid) ?? new Set<string>();
    legs.add(parsed.legUuid);
    completedLegs.set(parsed.conversationUuid, legs);
  }
  const unrecorded = (recorded: ReadonlySet<string>) =>
    [...completedLegs].filter(([, legs]) => ![...legs].some((leg) => recorded.has(leg)));
  if (unrecorded(known ?? new Set()).length === 0) return [];
  // A call near midnight may have its recording on the day before or after its events.
  const recorded =
    known && !range.from && !range.to
      ? known
      : new Set(
          (
            await listRecordingEntries(
              s3,
              bucket,
              range.from
                ? {
                    from: new Date(range.from.getTime() - DAY_MS),
                    to: new Date((range.to ?? new Date()).getTime() + DAY_MS),
                  }
                : {},
            )
          ).map((entry) => entry.uuid),
        );
  const suspects = unrecorded(recorded);
  const found = await mapLimit(suspects, 8, async ([conversationUuid, legs]) => {
    const days = [...(conversationDays.get(conversationUuid) ?? [])].map(
      (day) => new Date(`${day.replaceAll('/', '-')}T00:00:00Z`),
    );
    const events = await listCallEvents(s3, bucket, conversationUuid, days);
    const missing: MissingCall[] = [];
    for (const legUuid of legs) {
      const completed = events.find(
        (stored) => stored.event.uuid === legUuid && stored.event.status === 'completed',
      );
      // The websocket leg completes too: its `to` is the recorder's URI, never a call of its own.
      if (
        !completed ||
        [completed.event.to, completed.event.from].some((value) => /^wss?:\/\//i.test(String(value)))
      )
        continue;
      const summary = summarizeCallEvents(events, legUuid);
      if (!summary.answered) continue;
      missing.push({
        uuid: legUuid,
        conversationUuid,
        answeredAt: summary.answeredAt,
        from: summary.from,
        to: summary.to,
        vonageDurationSeconds: summary.callSeconds,
        reason: summary.websocketConnected ? 'not-stored' : 'never-connected',
      });
    }
    return missing;
  });
  return found.flat().sort((a, b) => (a.answeredAt ?? '').localeCompare(b.answeredAt ?? ''));
}
