/**
 * The "Lost-bookings simulation" section of BENCHMARKS.md: parameters, the
 * table of both modes, the goals with their results, and how it is measured.
 */
import { cpus } from 'node:os';
import { formatDuration, judgeGoals, type ModeSummary } from './report.js';
import type { SimulationParameters } from './scenario.js';

export const SECTION_HEADING = '## Lost-bookings simulation';

const verdict = (isMet: boolean) => (isMet ? 'PASS' : '**FAIL**');
const percent = (share: number) => `${Math.round(share * 1000) / 10} %`;

/** The section, from its heading to its last line. */
export function simulationSection(parameters: SimulationParameters, release: ModeSummary, hold: ModeSummary): string {
  const both = [release, hold];
  const row = (what: string, cell: (s: ModeSummary) => string | number) => `| ${what} | ${both.map(cell).join(' | ')} |`;
  const delays = (s: ModeSummary) => `${formatDuration(s.delay.median)} / ${formatDuration(s.delay.p90)}${s.heldDelay ? ` (held only: ${formatDuration(s.heldDelay.median)} / ${formatDuration(s.heldDelay.p90)})` : ''}`;
  const goals = both.map((s) => judgeGoals(s));
  const buckets = parameters.reauthDelays.map((b) => `${Math.round(b.share * 100)} % ${b.withinMs === undefined ? 'never' : `within ${formatDuration(b.withinMs)}`}`).join(', ');
  return `${SECTION_HEADING}

Measured by \`npm run simulate\` on ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, Node ${process.version}
(issue #17). Seed ${parameters.seed}; ${parameters.specialists} specialists, each connected to its own Zoom emulator user,
each token dying once at a random time in ${parameters.days} simulated days (revoked, refresh token expired, deauthorized:
a third each); ${parameters.customers} customers at random times, each asking one specialist's slots for the next
${parameters.lookAheadDays} days and booking a random one; specialists re-authorize after their first re-auth email:
${buckets}. The clock runs ${parameters.tailDays} more days with no customers so every hold ends. Both modes replay the same draw.

- **release**: today's behaviour: hold window 0 (the slot is released), no health check.
- **hold**: hold window ${parameters.holdWindowMinutes / 60} h, health check every ${parameters.healthCheckHours} h (more often for a busy specialist: at least 8 checks per booking request, at most hourly).

| | release | hold |
| --- | --- | --- |
${row('Customers who asked', (s) => s.customers)}
${row('Lost (asked, never confirmed, slot not taken)', (s) => `${s.lost} (released ${s.lostReleased}, hold expired ${s.lostHoldExpired})`)}
${row('Confirmed', (s) => `${s.confirmedAtOnce + s.confirmedAfterHold} (at once ${s.confirmedAtOnce}, after a hold ${s.confirmedAfterHold})`)}
${row('Confirmation − request, median / p90', delays)}
${row('Slot taken / no slot offered', (s) => `${s.taken} / ${s.noSlot}`)}
${row('Dead tokens found before any customer', (s) => `${percent(s.foundBeforeCustomerShare)} (check ${s.found.check}, webhook ${s.found.webhook}; customer first ${s.found.customer}, never ${s.found.never})`)}
${row('Specialists re-authorized (from the email link)', (s) => `${s.reauthorized} of ${s.deaths} (${s.reauthViaEmailLink})`)}
${row('Emails per specialist, all: max / mean', (s) => `${s.emailsPerSpecialist.max} / ${s.emailsPerSpecialist.mean}`)}
${row('Re-auth emails per specialist: max / mean', (s) => `${s.reauthEmailsPerSpecialist.max} / ${s.reauthEmailsPerSpecialist.mean}`)}
${row('Specialists over the email cadence', (s) => s.overCadence.length)}
${row('Wall time', (s) => `${s.wallSeconds} s`)}

| Goal | release | hold |
| --- | --- | --- |
${goals[0]!.map((g, i) => `| ${g.name} | ${verdict(g.isMet)}: ${g.detail} | ${verdict(goals[1]![i]!.isMet)}: ${goals[1]![i]!.detail} |`).join('\n')}

- The goals are the issue's, judged on \`hold\`; \`release\` shows where today's behaviour stands.
- Lost: the booking answered \`requires_reauth\` and the slot was released (release mode, or a hold that would be under
  30 minutes), or the request was held and its hold expired. Customers do not come back on their own.
- "Re-authorized within the hold window": the customer met the dead token and the specialist re-authorized before the
  default hold (${parameters.holdWindowMinutes / 60} h, cut at the slot's start minus the minimum notice) would end; the same test in both modes.
- How tokens die: revoked, the emulator revokes every token of the user; refresh token expired, at the death the
  server's connection is refreshed once (as a booking's would be) while the emulator hands out tokens that live one
  second, so the refresh token the server holds runs out then; deauthorized, the emulator revokes and posts a signed
  \`app_deauthorized\` to \`/webhooks/zoom\`, which the server handles in both modes (so \`release\` finds those too).
- Found before a customer: the server marked the connection dead (the routine check, or Zoom's \`app_deauthorized\`
  webhook) before any booking met it; a death nothing found counts as not found.
- The cadence bound per specialist: at most 4 routine-check notices per dead period (none before the death or after
  the re-authorization), plus one booking-attempt email per throttle window (REAUTH_EMAIL_WINDOW_MINUTES, 60) for the
  attempts that met the dead token, plus one per held request whose deadline is sooner than any before.
- Confirmation time is when the simulation saw the booking \`confirmed\`: at once for a direct booking, after the
  background work that ran right after the re-authorization for a held one.
- The real server (\`startServer\`, SQLite, the local inbox) runs on a simulated clock, with the Zoom emulator on the
  same clock. Its background tasks are not started; their work (\`server.work\`: the job worker with every handler;
  in \`hold\` the health check, jitter from the seed) is run until nothing is due after every event and every
  ${parameters.stepMinutes} simulated minutes, so a run is reproducible. Bookings are real HTTP (GET slots, POST booking);
  re-authorizing follows the newest emailed re-auth link to the emulator's consent page and the callback (or, if that
  link has expired or been used, the settings page's "Re-authorize").
`;
}

/** BENCHMARKS.md with the section replaced (or appended): the rest of the file is kept. */
export function withSection(markdown: string, section: string): string {
  const start = markdown.indexOf(SECTION_HEADING);
  if (start === -1) return `${markdown.trimEnd()}\n\n${section}`;
  const next = markdown.indexOf('\n## ', start + SECTION_HEADING.length);
  return `${markdown.slice(0, start)}${section}${next === -1 ? '' : `\n${markdown.slice(next + 1)}`}`;
}
