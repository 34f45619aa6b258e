// Issue #18, "every slot question can be cached": the slot question an SDK
// call without a range sends (no `from`, no `to`: the SDK README's example,
// examples/custom-frontend, examples/node-script, and the widget since it
// names no range either) against the hour-aligned question (from the start of
// this hour, 14 days: the widget's before), on the same server, interleaved in
// the same run (see interleaved.ts). Goal: the default question's throughput
// is at least 0.9 of the hour-aligned one's. Prints one JSON line.
import { BROWSER_HEADERS, ratioFigures, runInterleaved, sideFigures } from './interleaved.js';
import { spawnTs } from './lib.js';
import { startBenchStack } from './stack.js';

const CONNECTIONS = 50;
/**
 * Both questions are the same cached answer now, so only the machine's drift
 * tells them apart: with another run on this 2-core machine, 12 sets gave
 * 0.78 to 1.11 and 24 sets 0.99.
 */
const SETS = Number(process.env.BENCH_SLOT_QUESTION_SETS ?? 24);
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 2);
const HOUR = 3_600_000;
/** The server's default range (DEFAULT_RANGE_DAYS). */
const WIDGET_DAYS = 14;

const smtp = await spawnTs('bench/smtp-process.ts');
const stack = await startBenchStack({ smtpUrl: smtp.info.url! });
const slotsUrl = `${stack.url}/api/v1/specialists/bench/services/${stack.serviceId}/slots`;
/** The same range named explicitly, as the widget asked it before it named none (the measure). */
function widgetQuestion(): string {
  const from = Math.floor(Date.now() / HOUR) * HOUR;
  return `${slotsUrl}?from=${new Date(from).toISOString()}&to=${new Date(from + WIDGET_DAYS * 86_400_000).toISOString()}`;
}

const sets = await runInterleaved(
  {
    widget: { url: widgetQuestion, headers: BROWSER_HEADERS },
    defaultRange: { url: () => slotsUrl, headers: BROWSER_HEADERS },
  },
  { connections: CONNECTIONS, sets: SETS, sliceSeconds: SLICE_SECONDS },
);
await stack.close();
smtp.child.kill('SIGKILL');
const { ratio, ...defaultRange } = ratioFigures(sets, 'defaultRange', 'widget', SLICE_SECONDS);
console.log(
  JSON.stringify({
    connections: CONNECTIONS,
    sets: SETS,
    sliceSeconds: SLICE_SECONDS,
    widget: sideFigures(sets, 'widget', SLICE_SECONDS),
    defaultRange: { ...defaultRange, fractionOfWidget: ratio },
  }),
);
process.exit(0);
