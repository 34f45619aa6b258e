// Comparing HTTP questions on a shared machine: each side in short slices,
// the sides alternating, each set close in time. The speed of this machine
// drifts from second to second, so summing many interleaved slices lets every
// side see the same machine. A figure is the ratio of total requests; the
// spread of single sets' ratios is reported with it.
import autocannon from 'autocannon';

// What Chromium sends on a fetch: the widget's requests ask for compressed answers.
export const BROWSER_HEADERS = { 'accept-encoding': 'gzip, deflate, br, zstd' };

export interface Side {
  /** Asked afresh for every slice, so a side can follow the clock. */
  url: () => string;
  headers: Record<string, string>;
}

export interface InterleavedOptions {
  connections: number;
  sets: number;
  sliceSeconds: number;
}

export type SetResults<S extends string> = Record<S, autocannon.Result>;

export function runAutocannon(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => autocannon(opts, (err, result) => (err ? reject(err) : resolve(result))));
}

/** Runs every side for 2 s as a warm-up (not counted), then `sets` sets of one slice a side, the order reversed every other set. */
export async function runInterleaved<S extends string>(sides: Record<S, Side>, options: InterleavedOptions): Promise<SetResults<S>[]> {
  const order = Object.keys(sides) as S[];
  const slice = (side: S, seconds: number) => runAutocannon({ url: sides[side].url(), headers: sides[side].headers, connections: options.connections, duration: seconds });
  for (const side of order) await slice(side, 2);
  const sets: SetResults<S>[] = [];
  for (let p = 0; p < options.sets; p++) {
    // Alternate the order, so no side always follows another.
    const set: Partial<SetResults<S>> = {};
    for (const side of p % 2 === 0 ? order : [...order].reverse()) set[side] = await slice(side, options.sliceSeconds);
    sets.push(set as SetResults<S>);
  }
  return sets;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const medianOf = (values: number[]) => quantile([...values].sort((a, b) => a - b), 0.5);
const round2 = (x: number) => Math.round(100 * x) / 100;

/** Requests per second, the median of the slices' p50 and p99 latencies, and the answers that were not 2xx. */
export function sideFigures<S extends string>(sets: SetResults<S>[], side: S, sliceSeconds: number) {
  return {
    requestsPerSecond: Math.round(sets.reduce((n, set) => n + set[side].requests.total, 0) / (sets.length * sliceSeconds)),
    p50Ms: medianOf(sets.map((set) => set[side].latency.p50)),
    p99Ms: medianOf(sets.map((set) => set[side].latency.p99)),
    non2xx: sets.reduce((n, set) => n + set[side].non2xx, 0),
  };
}

/** One side against another (its floor or ceiling): totals' ratio, to three decimals so a verdict never rounds up to its goal, and the quartiles of single sets' ratios. */
export function ratioFigures<S extends string>(sets: SetResults<S>[], side: S, against: S, sliceSeconds: number) {
  const total = (s: S) => sets.reduce((n, set) => n + set[s].requests.total, 0);
  const setRatios = sets.map((set) => set[side].requests.total / set[against].requests.total).sort((a, b) => a - b);
  return {
    ...sideFigures(sets, side, sliceSeconds),
    ratio: Math.round((1000 * total(side)) / total(against)) / 1000,
    setRatioQuartiles: [0.25, 0.5, 0.75].map((q) => round2(quantile(setRatios, q))),
  };
}
