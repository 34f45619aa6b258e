// Books the first free slot of the demo specialist's first service from Node,
// with the SDK. Start the server first (`npm start`), build the package
// (`npm run build`), then: node examples/node-script/book.mjs [baseUrl]
import { createBookingClient } from 'specialist-booking/sdk';

const baseUrl = process.argv[2] ?? process.env.BOOKING_URL ?? 'http://localhost:3000';
const client = createBookingClient({ baseUrl });

const { specialist, services } = await client.getSpecialist('demo');
const service = services[0];
const { slots } = await client.listSlots('demo', service.id);
if (slots.length === 0) {
  console.log(`${specialist.name} has no free slots for "${service.title}" in the next two weeks.`);
  process.exit(0);
}

const outcome = await client.createBooking('demo', {
  serviceId: service.id,
  start: slots[0].start,
  customer: { name: 'Node Script', email: 'node-script@example.com', timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone },
});

switch (outcome.status) {
  case 'confirmed':
    console.log(`Booked "${service.title}" with ${specialist.name} at ${outcome.booking.start} (booking ${outcome.booking.id}).`);
    break;
  case 'slot_taken':
    console.log('Someone else took that slot first; run again for the next one.');
    break;
  case 'requires_reauth':
    console.log(`${outcome.message}${outcome.specialistNotified ? '' : ' (the specialist could not be notified)'}`);
    break;
  case 'invalid':
    console.log('The server refused the booking:', outcome.message, outcome.fieldErrors);
    process.exitCode = 1;
    break;
  case 'rate_limited':
  case 'zoom_unavailable':
    console.log(`${outcome.message} (retry in ${outcome.retryAfterSeconds} s)`);
    process.exitCode = 1;
    break;
}
