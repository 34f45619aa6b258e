/**
 * `<SpecialistBooking>` for React, with typed event props:
 *
 * @example
 * import { SpecialistBooking } from 'specialist-booking/react';
 * <SpecialistBooking specialist="demo" apiBase="https://booking.example.com"
 *   onBookingConfirmed={(e) => console.log(e.detail.bookingId)} />
 */
import { createComponent, type EventName } from '@lit/react';
import * as React from 'react';
import type { BookingConfirmedDetail, BookingFailedDetail, BookingReauthRequiredDetail, SlotsLoadedDetail } from './events.js';
import { SpecialistBooking as SpecialistBookingElement } from './index.js';

export const SpecialistBooking = createComponent({
  tagName: 'specialist-booking',
  elementClass: SpecialistBookingElement,
  react: React,
  events: {
    onBookingConfirmed: 'booking-confirmed' as EventName<CustomEvent<BookingConfirmedDetail>>,
    onBookingReauthRequired: 'booking-reauth-required' as EventName<CustomEvent<BookingReauthRequiredDetail>>,
    onBookingFailed: 'booking-failed' as EventName<CustomEvent<BookingFailedDetail>>,
    onSlotsLoaded: 'slots-loaded' as EventName<CustomEvent<SlotsLoadedDetail>>,
  },
});
