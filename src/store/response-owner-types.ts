/** What the shared response-owner record holds (response-owners.ts), apart from its stores. */
export interface ResponseOwner {
  owner: string;
  provider: string;
}

export const OWNER_TTL_MS = 30 * 24 * 3_600_000;

export interface ResponseOwnerStore {
  put(responseId: string, served: ResponseOwner): Promise<void>;
  /** The owner of a response; undefined when unknown or expired. StoreUnavailableError when the store is down. */
  get(responseId: string): Promise<ResponseOwner | undefined>;
  close(): Promise<void>;
}
