import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';

export interface EmulatorUser {
  id: string;
  email: string;
  first_name: string;
  last_name: string;
  display_name: string;
  account_id: string;
  timezone: string;
  pmi: number;
  type: number;
  status: 'active';
}

export interface EmulatorMeeting {
  id: number;
  uuid: string;
  host_id: string;
  host_email: string;
  topic: string;
  type: 2;
  start_time: string;
  duration: number;
  timezone: string;
  agenda: string;
  created_at: string;
  join_url: string;
  start_url: string;
  password: string;
  settings: Record<string, unknown>;
}

/** An injected failure; see `EmulatorControls.failNext`. */
export interface Failure {
  status: number;
  retryAfter?: string;
  rateLimitType?: 'QPS' | 'Daily-limit';
  body?: string;
  /** `api` (default): `/v2/*`; `token`: `/oauth/token`; `any`: both. */
  target?: 'api' | 'token' | 'any';
}

export interface TokenRequest {
  grantType: string;
  at: Date;
  /** `ok`, the OAuth error (`invalid_grant`, …), `dropped` (rotated, answer lost) or `http_<status>` (injected failure). */
  outcome: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

interface AuthCode {
  clientId: string;
  userId: string;
  redirectUri: string;
  /** The S256 `code_challenge`: PKCE is required. */
  challenge: string;
  expiresAt: number;
  isUsed: boolean;
}

interface AccessToken {
  userId: string;
  grantId: string;
  expiresAt: number;
  isRevoked: boolean;
}

interface RefreshToken {
  userId: string;
  grantId: string;
  expiresAt: number;
  isValid: boolean;
}

export interface EmulatorSettings {
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
  /** The app's one redirect URL: authorize and the code exchange accept no other. */
  redirectUri: string;
  clock: () => Date;
  accessTokenSeconds: number;
  refreshTokenSeconds: number;
  dailyMeetingLimit: number;
}

/** PKCE S256: base64url SHA-256 of the verifier (RFC 7636 §4.2). */
export const s256Challenge = (verifier: string) => createHash('sha256').update(verifier).digest('base64url');

/** How many injected failures may wait at once: a test needs a handful, a runaway loop must not fill memory. */
export const MAX_QUEUED_FAILURES = 100;

/** Zoom's codes live 5 minutes. */
const CODE_LIFETIME_MS = 5 * 60_000;

/** Opaque, but shaped like Zoom's JWTs (`eyJ…`), so length limits and logging are exercised realistically. */
const newToken = () => `eyJ${randomBytes(36).toString('base64url')}.${randomBytes(24).toString('base64url')}`;

/** The UTC day of an instant, `YYYY-MM-DD`: Zoom's daily limits reset at 00:00 GMT. */
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * Everything the emulator remembers, with the rules Zoom applies to it:
 * single-use codes, rotating single-use refresh tokens, "token tolerance 1"
 * (a new authorization kills the user's earlier tokens), revocation, the
 * daily meeting create/update limit. Every expiry reads `settings.clock`.
 */
export class EmulatorState {
  readonly users = new Map<string, EmulatorUser>();
  readonly meetings = new Map<number, EmulatorMeeting>();
  readonly failures: Failure[] = [];
  readonly tokenLog: TokenRequest[] = [];
  droppedRefreshResponses = 0;
  private readonly codes = new Map<string, AuthCode>();
  private readonly accessTokens = new Map<string, AccessToken>();
  private readonly refreshTokens = new Map<string, RefreshToken>();
  private readonly dailyCreates = new Map<string, number>();

  constructor(readonly settings: EmulatorSettings) {}

  now(): number {
    return this.settings.clock().getTime();
  }

  addUser(partial: Partial<EmulatorUser> = {}): EmulatorUser {
    const n = this.users.size + 1;
    const user: EmulatorUser = {
      id: `zu_${randomBytes(8).toString('hex')}`,
      email: `zoom-user-${n}@example.test`,
      first_name: 'Zoom',
      last_name: `User ${n}`,
      display_name: `Zoom User ${n}`,
      account_id: `acct_${randomBytes(6).toString('hex')}`,
      timezone: 'UTC',
      pmi: randomInt(1_000_000_000, 9_999_999_999),
      type: 2,
      status: 'active',
      ...partial,
    };
    this.users.set(user.id, user);
    return user;
  }

  issueCode(input: Omit<AuthCode, 'expiresAt' | 'isUsed'>): string {
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, { ...input, expiresAt: this.now() + CODE_LIFETIME_MS, isUsed: false });
    return code;
  }

  /**
   * Redeems a code: single use, 5 minutes, same client, the configured
   * redirect URI, matching PKCE verifier. Returns the user, or undefined for
   * any failure. A failed attempt burns the code too (RFC 6749 §10.5: codes
   * are one-shot).
   */
  redeemCode(code: string, clientId: string, redirectUri: string | undefined, verifier: string | undefined): string | undefined {
    const entry = this.codes.get(code);
    if (!entry || entry.isUsed || entry.expiresAt < this.now()) return undefined;
    entry.isUsed = true;
    if (entry.clientId !== clientId || entry.redirectUri !== redirectUri || redirectUri !== this.settings.redirectUri) return undefined;
    if (!verifier || s256Challenge(verifier) !== entry.challenge) return undefined;
    return entry.userId;
  }

  /** A new grant for a user; earlier tokens of that user die (Zoom's "token tolerance 1"). */
  grant(userId: string): TokenPair {
    this.revokeAllTokens(userId);
    return this.issuePair(userId, randomUUID());
  }

  private issuePair(userId: string, grantId: string): TokenPair {
    const accessToken = newToken();
    const refreshToken = newToken();
    const now = this.now();
    this.accessTokens.set(accessToken, { userId, grantId, expiresAt: now + this.settings.accessTokenSeconds * 1000, isRevoked: false });
    this.refreshTokens.set(refreshToken, { userId, grantId, expiresAt: now + this.settings.refreshTokenSeconds * 1000, isValid: true });
    return { accessToken, refreshToken };
  }

  /** Rotates a refresh token: the old one is dead at once, the old access token lives to its expiry (as on Zoom). */
  rotate(refreshToken: string): TokenPair | undefined {
    const entry = this.refreshTokens.get(refreshToken);
    if (!entry || !entry.isValid || entry.expiresAt <= this.now()) return undefined;
    entry.isValid = false;
    return this.issuePair(entry.userId, entry.grantId);
  }

  /** Revokes an access token with every token of its grant. False when the token is unknown. */
  revokeAccessToken(accessToken: string): boolean {
    const entry = this.accessTokens.get(accessToken);
    if (!entry) return false;
    for (const t of this.accessTokens.values()) if (t.grantId === entry.grantId) t.isRevoked = true;
    for (const t of this.refreshTokens.values()) if (t.grantId === entry.grantId) t.isValid = false;
    return true;
  }

  /** Whether the user still has a grant this app could use (a valid refresh token): Zoom then lists the app as installed. */
  hasLiveGrant(userId: string): boolean {
    const now = this.now();
    for (const t of this.refreshTokens.values()) if (t.userId === userId && t.isValid && t.expiresAt > now) return true;
    return false;
  }

  revokeAllTokens(userId: string): void {
    for (const t of this.accessTokens.values()) if (t.userId === userId) t.isRevoked = true;
    for (const t of this.refreshTokens.values()) if (t.userId === userId) t.isValid = false;
  }

  expireAccessTokens(userId: string): void {
    const now = this.now();
    for (const t of this.accessTokens.values()) if (t.userId === userId && t.expiresAt > now) t.expiresAt = now;
  }

  /** The user behind a bearer token, or why it is refused (Zoom's two code-124 messages). */
  authenticate(accessToken: string | undefined): { user: EmulatorUser } | { error: string } {
    const entry = accessToken ? this.accessTokens.get(accessToken) : undefined;
    if (!entry || entry.isRevoked) return { error: 'Invalid access token.' };
    if (entry.expiresAt <= this.now()) return { error: 'Access token is expired.' };
    const user = this.users.get(entry.userId);
    return user ? { user } : { error: 'Invalid access token.' };
  }

  /** Counts a meeting create or update request against the user's one limit for the current UTC day; false when over it. */
  countMeetingWrite(userId: string): boolean {
    const key = `${userId}:${utcDay(this.now())}`;
    const used = this.dailyCreates.get(key) ?? 0;
    if (used >= this.settings.dailyMeetingLimit) return false;
    this.dailyCreates.set(key, used + 1);
    return true;
  }

  /** A meeting id Zoom-like in shape (11 digits) and unique here. */
  newMeetingId(): number {
    let id: number;
    do id = randomInt(10_000_000_000, 99_999_999_999);
    while (this.meetings.has(id));
    return id;
  }

  /** Queues failures; at most `MAX_QUEUED_FAILURES` wait at once. @throws RangeError over that. */
  queueFailures(count: number, failure: Failure): void {
    if (!Number.isInteger(count) || count < 0 || this.failures.length + count > MAX_QUEUED_FAILURES) {
      throw new RangeError(`At most ${MAX_QUEUED_FAILURES} failures may be queued at once (${this.failures.length} are).`);
    }
    for (let i = 0; i < count; i++) this.failures.push({ ...failure });
  }

  /** Takes the first queued failure that applies to `target`, keeping the order of the others. */
  takeFailure(target: 'api' | 'token'): Failure | undefined {
    const index = this.failures.findIndex((f) => (f.target ?? 'api') === target || f.target === 'any');
    return index === -1 ? undefined : this.failures.splice(index, 1)[0];
  }
}
