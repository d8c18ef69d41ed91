/**
 * The source interface (DESIGN.md §2): a source emits apply, delete and reset events of raw documents with
 * their origin. The index validates and translates them; sources know nothing of kinds. A Kubernetes
 * source will implement the same interface.
 */

import type { Origin } from '../../api/resources/meta.ts';
import type { ConfigIssue } from '../../core/index.ts';

/** One document as a source read it, before validation. */
export interface SourcedDocument {
  /** Stable within the source: "file.yaml#2" for the third document of a file. */
  id: string;
  origin: Origin;
  /** The parsed document, or undefined when it could not be parsed (see parseIssues). */
  doc: unknown;
  parseIssues: ConfigIssue[];
  /** Where the value at a dotted path ("spec.ports.0.port") is, or the nearest parent's position. */
  locate(path: string): Origin;
}

export interface SourceEvents {
  apply(doc: SourcedDocument): void;
  delete(id: string): void;
  /** Everything the source holds now: documents not listed are gone. */
  reset(docs: SourcedDocument[]): void;
}

export interface Source {
  readonly name: string;
  start(events: SourceEvents): Promise<void>;
  /** Reads everything again now, for a change this process made itself (no need to wait for a watcher). */
  refresh?(): void;
  stop(): void;
}
