/** A page of the console: its element, and how it loads its data. */
export interface View {
  id: string;
  title: string;
  root: HTMLElement;
  /** Refreshed every few seconds while shown (forms that hold input are not). */
  live: boolean;
  /** Loads and redraws the view's data; throws ApiError on failure. */
  refresh(): Promise<void>;
  /** Frees what the view holds (charts, observers) when another view is shown. */
  dispose?(): void;
}
