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

export interface Failure {
  status: number;
  retryAfter?: string;
  rateLimitType?: 'QPS' | 'Daily-limit';
  body?: string;
  target?: 'api' | 'token' | 'any';
}

interface AuthCode {
  userId: string;
  redirectUri: string;
  challenge: string | undefined;
  challengeMethod: 'S256' | 'plain';
  expiresAt: number;
  used: boolean;
}

interface AccessToken {
  userId: string;
  grantId: string;
  expiresAt: number;
  revoked: boolean;
}

interface RefreshToken {
  userId: string;
  grantId: string;
  expiresAt: number;
  valid: boolean;
}

export interface EmulatorSettings {
  clientId: string;
  clientSecret: string;
  webhookSecret: string;
  clock: () => Date;
  accessTokenSeconds: number;
  refreshTokenSeconds: number;
  dailyMeetingLimit: number;
}

const token = () => `eyJ${randomBytes(36).toString('base64url')}`;

/**
 * Everything the emulator remembers, with the rules Zoom applies to it:
 * single-use codes, rotating single-use refresh tokens, "token tolerance 1"
 * (a new authorization kills the user's earlier tokens), revocation.
 */
export class EmulatorState {
  readonly users = new Map<string, EmulatorUser>();
  readonly meetings = new Map<number, EmulatorMeeting & { deleted: boolean }>();
  readonly failures: Failure[] = [];
  readonly tokenLog: { grantType: string; at: Date; outcome: string }[] = [];
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

  issueCode(input: Omit<AuthCode, 'expiresAt' | 'used'>): string {
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, { ...input, expiresAt: this.now() + 5 * 60_000, used: false });
    return code;
  }

  /** Redeems a code (single use, 5 minutes, same redirect URI, matching PKCE verifier). */
  redeemCode(code: string, redirectUri: string | undefined, verifier: string | undefined): string | undefined {
    const entry = this.codes.get(code);
    if (!entry || entry.used || entry.expiresAt < this.now() || entry.redirectUri !== redirectUri) return undefined;
    entry.used = true;
    if (entry.challenge !== undefined) {
      if (!verifier) return undefined;
      const computed = entry.challengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (computed !== entry.challenge) return undefined;
    }
    return entry.userId;
  }

  /** A new grant for a user; earlier tokens of that user die (Zoom's "token tolerance 1"). */
  grant(userId: string): { accessToken: string; refreshToken: string } {
    this.revokeAllTokens(userId);
    return this.issuePair(userId, randomUUID());
  }

  private issuePair(userId: string, grantId: string): { accessToken: string; refreshToken: string } {
    const accessToken = token();
    const refreshToken = token();
    this.accessTokens.set(accessToken, { userId, grantId, expiresAt: this.now() + this.settings.accessTokenSeconds * 1000, revoked: false });
    this.refreshTokens.set(refreshToken, { userId, grantId, expiresAt: this.now() + this.settings.refreshTokenSeconds * 1000, valid: true });
    return { accessToken, refreshToken };
  }

  /** Rotates a refresh token: the old one is dead at once, the old access token lives to its expiry. */
  rotate(refreshToken: string): { accessToken: string; refreshToken: string } | undefined {
    const entry = this.refreshTokens.get(refreshToken);
    if (!entry || !entry.valid || entry.expiresAt < this.now()) return undefined;
    entry.valid = false;
    return this.issuePair(entry.userId, entry.grantId);
  }

  /** Revokes an access token and its grant's refresh tokens. */
  revokeAccessToken(accessToken: string): boolean {
    const entry = this.accessTokens.get(accessToken);
    if (!entry) return false;
    for (const t of this.accessTokens.values()) if (t.grantId === entry.grantId) t.revoked = true;
    for (const t of this.refreshTokens.values()) if (t.grantId === entry.grantId) t.valid = false;
    return true;
  }

  revokeAllTokens(userId: string): void {
    for (const t of this.accessTokens.values()) if (t.userId === userId) t.revoked = true;
    for (const t of this.refreshTokens.values()) if (t.userId === userId) t.valid = false;
  }

  expireAccessTokens(userId: string): void {
    for (const t of this.accessTokens.values()) if (t.userId === userId && t.expiresAt > this.now()) t.expiresAt = this.now() - 1;
  }

  /** The user behind a bearer token, or why it is refused (Zoom's two code-124 messages). */
  authenticate(accessToken: string | undefined): { user: EmulatorUser } | { error: string } {
    const entry = accessToken ? this.accessTokens.get(accessToken) : undefined;
    if (!entry || entry.revoked) return { error: 'Invalid access token.' };
    if (entry.expiresAt <= this.now()) return { error: 'Access token is expired.' };
    const user = this.users.get(entry.userId);
    return user ? { user } : { error: 'Invalid access token.' };
  }

  /** Counts a meeting create against the user's daily limit; false when over it. */
  countMeetingCreate(userId: string): boolean {
    const key = `${userId}:${new Date(this.now()).toISOString().slice(0, 10)}`;
    const used = this.dailyCreates.get(key) ?? 0;
    if (used >= this.settings.dailyMeetingLimit) return false;
    this.dailyCreates.set(key, used + 1);
    return true;
  }

  takeFailure(target: 'api' | 'token'): Failure | undefined {
    const index = this.failures.findIndex((f) => (f.target ?? 'api') === target || f.target === 'any');
    return index === -1 ? undefined : this.failures.splice(index, 1)[0];
  }
}
