/**
 * A React 19 app that mounts the widget through its `@lit/react` wrapper
 * (widget/react.ts), as a React site would: React creates the element,
 * attaches it, then sets `specialist` and `apiBase` as properties.
 * react.test.ts bundles this file; the query string names the specialist
 * (`specialist`) and the booking server (`api-base`).
 */
import { createElement, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SpecialistBooking } from '../../../widget/react.js';

function BookingPage() {
  const [confirmedId, setConfirmedId] = useState('');
  const query = new URLSearchParams(location.search);
  return createElement(
    'main',
    null,
    createElement(SpecialistBooking, {
      specialist: query.get('specialist') ?? '',
      apiBase: query.get('api-base') ?? '',
      onBookingConfirmed: (event) => setConfirmedId(event.detail.bookingId),
    }),
    createElement('output', { id: 'confirmed-id' }, confirmedId),
  );
}

createRoot(document.getElementById('root')!).render(createElement(BookingPage));
