// The part of blessed-contrib's API `faasflow top` uses (the package ships no types).
declare module 'blessed-contrib' {
  import type { Widgets } from 'blessed';

  type Factory<T> = (options: Record<string, unknown>) => T;

  export interface TableWidget extends Widgets.BoxElement {
    options: { columnWidth: number[]; columnSpacing: number } & Record<string, unknown>;
    rows: Widgets.ListElement;
    setData(data: { headers: string[]; data: string[][] }): void;
  }

  export interface GaugeWidget extends Widgets.BoxElement {
    options: Record<string, unknown>;
    setPercent(fraction: number): void;
  }

  export class grid {
    constructor(options: { rows: number; cols: number; screen: Widgets.Screen; hideBorder?: boolean; color?: string });
    set<T>(row: number, col: number, rowSpan: number, colSpan: number, widget: Factory<T>, options: Record<string, unknown>): T;
  }

  export const table: Factory<TableWidget>;
  export const gauge: Factory<GaugeWidget>;
}
