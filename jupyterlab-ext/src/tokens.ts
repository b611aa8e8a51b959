// The extension's public surface: the tokens other plugins (and our own) depend on, and the
// shapes they exchange. Kubernetes and lifecycle knowledge stays in the wasm core; these
// types only carry what it reports.
import { Token } from '@lumino/coreutils';
import { ISignal } from '@lumino/signaling';
import type * as Wasm from 'kaptain-wasm';
import type * as BuildWasm from 'kaptain-wasm/build/kaptain.js';
import type { ClusterOptions, ObjectRef, Outcome } from 'kaptain-wasm';

export type KaptainWasm = typeof Wasm;
/** The build package (pkg/build/): the same API, plus the build step (packing, S3 upload). */
export type KaptainBuildWasm = typeof BuildWasm;
export type {
  ClusterOptions,
  CleanupReport,
  ObjectRef,
  Outcome,
  PlanEntry,
  RunEvent,
  RunReport,
  RunSummary
} from 'kaptain-wasm';

/** Where a `%%kaptain` cell's run stands. */
export type RunState =
  | 'starting' // validated, creating objects
  | 'running' // following its objects
  | 'cleaning' // interrupted, deleting
  | 'succeeded'
  | 'failed'
  | 'interrupted'
  | 'error'; // the run could not be carried out (the message says why)

/** One object of a run as the cell output and the panel show it. */
export interface RunObjectView {
  kind: string;
  name: string;
  /** The last state the core reported (e.g. "Running", "Succeeded"). */
  state: string;
  message: string;
  /**
   * Set when the run ended: delete or keep, and the rule that decided; `restore`: an
   * InferenceService a replacing deploy applied over, put back as it was.
   */
  fate?: { action: 'delete' | 'keep' | 'restore' | 'remains'; reason: string };
}

/**
 * One cell execution's run: what the ledger keeps in browser storage (no secret values:
 * names, states and the cell text only) so that a reload can show, follow or clean it.
 */
export interface RunRecord {
  runId: string;
  /** Notebook path (relative to the server root) and cell id the run came from. */
  notebook: string;
  cellId: string;
  /** The cell's source, so that a run can be resumed after a reload. */
  cell: string;
  step: string;
  modelId: string;
  namespace: string;
  state: RunState;
  /** Milliseconds since the epoch. */
  startedAt: number;
  endedAt?: number;
  /** Phase progress: the phases the core planned for the run (in order), and how each ended. */
  phases: { phase: string; outcome?: Outcome; message?: string }[];
  objects: RunObjectView[];
  /** The outcome's or the error's message. */
  message?: string;
  /** Interruption: what was deleted and how long it took (ms). */
  cleanup?: { deleted: ObjectRef[]; remaining: [ObjectRef, string][]; millis: number };
  /** The build step: its context uploaded to S3, or skipped as the image was built before. */
  build?: { uploaded?: string; bytes?: number; skippedImage?: string; builtBy?: string };
  /** What the lifecycle's decisions cost the user (the core's plan says; e.g. the serving caveat). */
  caveats?: string[];
  /** The tail of pod logs, per pod; `streamed`: the core passes its lines on as they come. */
  logs?: { pod: string; lines: string[]; error?: string; streamed?: boolean }[];
}

/** The cluster connection and settings every call needs, resolved once per call. */
export interface IKaptainCore {
  /** The wasm package, loaded once on first use. */
  wasm(): Promise<KaptainWasm>;
  /** The build package, loaded once by the first cell that builds an image. */
  buildWasm(): Promise<KaptainBuildWasm>;
  /** How the page reaches S3 (the server's kaptain/s3 route), when the server has an endpoint. */
  s3Route(): Promise<{ route: string; endpoint: string } | undefined>;
  /**
   * The server's kaptain/secret-copy route: it makes a run's credential Secrets from their
   * sources, so that the sources' data never reaches the page.
   */
  secretCopyRoute(): string;
  /**
   * The files at `paths` (relative to the directory of `notebook`), read by the server's
   * `/kaptain/context` route, which refuses what leads out of its root and, before reading, a
   * total over `maxBytes`; a file that is not there is left out (the core then names the field
   * that wants it).
   */
  readFiles(notebook: string, paths: string[], maxBytes: number): Promise<Record<string, Uint8Array>>;
  /** Which notebook server this is, as it names itself: the runs it starts carry it. */
  notebookServer(): Promise<string>;
  /** Where the cluster is (the server's `kube` proxy) and the namespace to work in. */
  cluster(): Promise<ClusterOptions & { namespace?: string }>;
  /** KAPTAIN_SDK_* switches: server environment overridden by the user's settings. */
  env(): Promise<Record<string, string>>;
  /** `config:` defaults from the user's settings, as YAML (or undefined). */
  settings(): Promise<string | undefined>;
}

export const IKaptainCore = new Token<IKaptainCore>(
  'kaptain-jupyterlab:core',
  'Loads the kaptain wasm core and resolves the cluster connection and settings.'
);

/** The runs of this browser, live and ended, kept in the ledger. */
export interface IKaptainRuns {
  readonly runs: readonly RunRecord[];
  /** Emitted with the run that changed (added, updated, removed). */
  readonly changed: ISignal<IKaptainRuns, RunRecord>;
  get(runId: string): RunRecord | undefined;
  /** Runs still live (starting, running or cleaning). */
  live(): RunRecord[];
  /**
   * Interrupts the live run of a notebook (every live run of it), as the kernel interrupt
   * does: cancels it and deletes its objects; once per run, however many hooks fire.
   * Resolves when the cleanup ended.
   */
  interrupt(notebook: string, why: string): Promise<void>;
  /** Cleans up a run that no cell is following (ended, or found after a reload). */
  cleanup(runId: string): Promise<void>;
  /** Forgets a run (the ledger entry; nothing in the cluster). */
  forget(runId: string): void;
}

export const IKaptainRuns = new Token<IKaptainRuns>(
  'kaptain-jupyterlab:runs',
  'The runs %%kaptain cells started in this browser, with their ledger.'
);
