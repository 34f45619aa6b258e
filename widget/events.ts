/** `booking-confirmed`: the customer booked. */
export interface BookingConfirmedDetail {
  bookingId: string;
  /** UTC ISO instants. */
  start: string;
  end: string;
  service: { id: string; title: string };
  zoomJoinUrl: string | null;
}

/** `booking-reauth-required`: the specialist's Zoom needs re-authorizing; the modal is open. */
export interface BookingReauthRequiredDetail {
  specialistNotified: boolean;
  message: string;
  service: { id: string; title: string };
  start: string;
  /**
   * The time is held for the customer until `expiresAt` (UTC ISO) and
   * confirmed by email as soon as the specialist re-authorizes; `id` is the
   * booking's once confirmed. Undefined when nothing was kept (issue #17).
   */
  hold: { id: string; expiresAt: string } | undefined;
}

/** `booking-failed`: something went wrong that the customer may retry. */
export interface BookingFailedDetail {
  /** The server's stable code, or `network_error` when it could not be reached. */
  code: string;
  message: string;
}

/** `slots-loaded`: free slots arrived for a service. */
export interface SlotsLoadedDetail {
  serviceId: string;
  count: number;
  from: string;
  to: string;
}

declare global {
  interface GlobalEventHandlersEventMap {
    'booking-confirmed': CustomEvent<BookingConfirmedDetail>;
    'booking-reauth-required': CustomEvent<BookingReauthRequiredDetail>;
    'booking-failed': CustomEvent<BookingFailedDetail>;
    'slots-loaded': CustomEvent<SlotsLoadedDetail>;
  }
}
