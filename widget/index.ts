/**
 * `import 'specialist-booking/widget'` registers `<specialist-booking>`.
 * Registering twice (the script included twice) is harmless.
 */
import { SpecialistBooking } from './specialist-booking.js';

export { SpecialistBooking } from './specialist-booking.js';
export type { BookingConfirmedDetail, BookingFailedDetail, BookingReauthRequiredDetail, SlotsLoadedDetail } from './events.js';

if (!customElements.get('specialist-booking')) customElements.define('specialist-booking', SpecialistBooking);

declare global {
  interface HTMLElementTagNameMap {
    'specialist-booking': SpecialistBooking;
  }
}
