import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';

const CHANGE = 'jobdeck:navigate';

/** Goes to a dashboard URL without a reload (history routing); `replace` keeps Back sensible. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new Event(CHANGE));
}

/** The current path and query, updated on navigation and Back/Forward. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const read = () => ({ path: location.pathname, query: new URLSearchParams(location.search) });
  const [current, setCurrent] = useState(read);
  useEffect(() => {
    const update = () => setCurrent(read());
    window.addEventListener('popstate', update);
    window.addEventListener(CHANGE, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(CHANGE, update);
    };
  }, []);
  return current;
}

/** A link that navigates in the app; modified clicks (new tab) stay the browser's. */
export function Link(
  props: { href: string; children: ComponentChildren } & JSX.HTMLAttributes<HTMLAnchorElement>,
) {
  const { href, children, ...rest } = props;
  const onClick = (event: MouseEvent) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
      return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a {...rest} href={href} onClick={onClick}>
      {children}
    </a>
  );
}

export const runPath = (id: string) => `/dashboard/runs/${encodeURIComponent(id)}`;
export const jobPath = (name: string) => `/dashboard/jobs/${encodeURIComponent(name)}`;
