/** Size of one slot claim, in minutes. Durations and steps are multiples of it. */
export const CLAIM_BLOCK_MINUTES = 5;

/**
 * The claim blocks an interval occupies, as minutes since the epoch: every
 * block that overlaps [start, end).
 */
export function claimBlocks(start: number, end: number): number[] {
  const first = Math.floor(start / 60_000 / CLAIM_BLOCK_MINUTES) * CLAIM_BLOCK_MINUTES;
  const blocks: number[] = [];
  for (let minute = first; minute * 60_000 < end; minute += CLAIM_BLOCK_MINUTES) blocks.push(minute);
  return blocks;
}
