// A booking page built on the SDK alone, with its own handling of every outcome.
import { createBookingClient } from '/sdk/specialist-booking-sdk.js';

const client = createBookingClient({ baseUrl: location.origin });
const slug = new URLSearchParams(location.search).get('specialist') ?? 'demo';
const $ = (id) => document.getElementById(id);
const timeFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: 'numeric', minute: '2-digit' });
let chosen;

const { specialist, services } = await client.getSpecialist(slug);
$('name').textContent = specialist.name;
for (const service of services) $('service').append(new Option(`${service.title} (${service.durationMinutes} min)`, service.id));
$('service').addEventListener('change', showSlots);
await showSlots();

async function showSlots() {
  const { slots } = await client.listSlots(slug, $('service').value);
  $('slots').replaceChildren(
    ...slots.slice(0, 12).map((slot) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = timeFormat.format(new Date(slot.start));
      button.addEventListener('click', () => {
        chosen = slot;
        $('chosen').textContent = `${$('service').selectedOptions[0].text}, ${button.textContent}`;
        $('details').hidden = false;
        $('customer-name').focus();
      });
      return button;
    }),
  );
}

$('details').addEventListener('submit', async (event) => {
  event.preventDefault();
  const outcome = await client.createBooking(slug, {
    serviceId: $('service').value,
    start: chosen.start,
    customer: { name: $('customer-name').value, email: $('customer-email').value, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone },
  });
  switch (outcome.status) {
    case 'confirmed':
      $('message').textContent = `Booked! Your Zoom link: ${outcome.booking.zoomJoinUrl} (also in your email).`;
      $('details').hidden = true;
      break;
    case 'slot_taken':
      $('message').textContent = 'Someone just took that time. Pick another one.';
      await showSlots();
      break;
    case 'requires_reauth':
      $('message').textContent = `${specialist.name} needs to reconnect their video account before new bookings can be made. ${
        outcome.specialistNotified ? `${specialist.name} has been notified by email.` : ''
      } Please try again later.`;
      break;
    case 'invalid':
      $('message').textContent = Object.values(outcome.fieldErrors).join(' ') || outcome.message;
      break;
    case 'rate_limited':
      $('message').textContent = `Too many booking attempts. Please try again in ${Math.ceil(outcome.retryAfterSeconds / 60)} minutes.`;
      break;
    case 'zoom_unavailable':
      $('message').textContent = `The video call could not be set up just now, so nothing was booked. Please try again in ${outcome.retryAfterSeconds <= 60 ? 'a minute' : `${Math.ceil(outcome.retryAfterSeconds / 60)} minutes`}.`;
      break;
  }
});
