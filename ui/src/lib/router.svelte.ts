// The current route as reactive state, following `location.hash`.
import { parseRoute, routeHash, type Route } from './router';

let current = $state<Route>(parseRoute(typeof location === 'undefined' ? '' : location.hash));

function sync(): void {
  current = parseRoute(location.hash);
}

if (typeof window !== 'undefined') window.addEventListener('hashchange', sync);

/** The route shown now. */
export const router = {
  get route(): Route {
    return current;
  },
};

/** Shows another screen (adds a history entry, so the back gesture returns). */
export function navigate(r: Route, opts: { replace?: boolean } = {}): void {
  const hash = routeHash(r);
  if (opts.replace) {
    history.replaceState(null, '', hash);
    sync();
  } else if (location.hash !== hash) {
    location.hash = hash;
    sync();
  } else {
    sync();
  }
}
