import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Session } from './api.js';

export const SessionContext = createContext<Session>({ principal: '', role: 'viewer' });
/** The signed-in principal and role: pages show controls by role. */
export const useSession = () => useContext(SessionContext);
