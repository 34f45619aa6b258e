export { createZoomClient, type ZoomClient, type ZoomClientOptions, type ZoomMeeting, type ZoomMeetingTimeChange, type ZoomTokens, type ZoomUser } from './client.js';
export { createZoomConnectionStore, type ZoomConnectionStore, type AccessTokenResult, type ReauthReason } from './connections.js';
export { createZoomMeetings, bookingMarker, type ZoomMeetings } from './meetings.js';
export { ZoomApiError, ZoomMalformedAnswerError, ZoomMeetingNotFoundError, ZoomNetworkError, ZoomOAuthError } from './errors.js';
export type { ReauthNotifier, ReauthRequiredEvent } from './reauth.js';
export { isValidZoomSignature, urlValidationAnswer } from './webhook.js';
