// IKaptainCore: the wasm core, loaded once on first use, and the connection and switches every
// call needs. The precedence of the switches is the settings schema's (schema/plugin.json).
import { PageConfig, PathExt, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import type { ClusterOptions } from 'kaptain-wasm';
import { IKaptainCore, KaptainBuildWasm, KaptainWasm } from './tokens';

/** The Performance API measure of fetching and instantiating the wasm core. */
export const WASM_LOAD_MEASURE = 'kaptain-wasm-load';

/** What `GET <base_url>/kaptain/config` answers (kaptain_jupyterlab/handlers.py). */
export interface ServerConfig {
  env: Record<string, string>;
  namespace: string | null;
  namespaceFrom: string | null;
  proxyPath: string;
  /** Which notebook server this is (its base URL, or its host's name at /): runs carry it. */
  notebookServer: string;
  /** The S3 endpoint the server's kaptain/s3 route forwards to, if it has one. */
  s3Endpoint?: string | null;
}

/** The media type of `<base_url>/kaptain/context`'s answer (kaptain_jupyterlab/context.py). */
export const CONTEXT_FILES_TYPE = 'application/vnd.kaptain.context-files';

/**
 * The files of a `/kaptain/context` answer: a 4-byte big-endian length, that many bytes of
 * JSON `{files: [{path, size}], missing}`, then the files' bytes in that order.
 */
export function contextFiles(answer: ArrayBuffer): Record<string, Uint8Array> {
  const view = new DataView(answer);
  const length = view.getUint32(0);
  const manifest = JSON.parse(new TextDecoder().decode(new Uint8Array(answer, 4, length))) as {
    files: { path: string; size: number }[];
  };
  const files: Record<string, Uint8Array> = {};
  let offset = 4 + length;
  for (const { path, size } of manifest.files) {
    files[path] = new Uint8Array(answer, offset, size);
    offset += size;
  }
  if (offset !== answer.byteLength) {
    throw new Error(`the server's answer holds ${answer.byteLength - offset} bytes more than its files`);
  }
  return files;
}

/** The user's settings (schema/plugin.json). */
export interface KaptainSettings {
  namespace: string;
  forceCleanup: boolean | null;
  deleteExperiment: boolean | null;
  keepServingCredentials: boolean | null;
  ttlSecondsAfterFinished: number | null;
  config: string;
  watch: 'event-stream' | 'poll';
}

export const DEFAULT_SETTINGS: KaptainSettings = {
  namespace: '',
  forceCleanup: null,
  deleteExperiment: null,
  keepServingCredentials: null,
  ttlSecondsAfterFinished: null,
  config: '',
  // No request stays open: see the setting's description in schema/plugin.json.
  watch: 'poll'
};

/** The settings keys that stand for KAPTAIN_SDK_* switches. */
const SWITCHES: [keyof KaptainSettings, string][] = [
  ['forceCleanup', 'KAPTAIN_SDK_FORCE_CLEANUP'],
  ['deleteExperiment', 'KAPTAIN_SDK_DELETE_EXPERIMENT'],
  ['keepServingCredentials', 'KAPTAIN_SDK_KEEP_SERVING_CREDENTIALS'],
  ['ttlSecondsAfterFinished', 'KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED']
];

/** The switches a run gets: the server's environment, overridden by the settings set. */
export function resolveEnv(
  server: Record<string, string>,
  settings: KaptainSettings
): Record<string, string> {
  const env = { ...server };
  for (const [key, variable] of SWITCHES) {
    const value = settings[key];
    if (value !== null && value !== undefined) {
      env[variable] = String(value);
    }
  }
  return env;
}

/** The namespace: the settings', else the server's; undefined lets the core default. */
export function resolveNamespace(server: ServerConfig, settings: KaptainSettings): string | undefined {
  return settings.namespace.trim() || server.namespace || undefined;
}

/** Headers Jupyter's server wants on a request that is not made by ServerConnection. */
export function jupyterHeaders(token: string, cookie: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (token) {
    headers.Authorization = `token ${token}`;
  }
  const xsrf = cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  if (xsrf) {
    headers['X-XSRFToken'] = decodeURIComponent(xsrf[1]);
  }
  return headers;
}

export class KaptainCore implements IKaptainCore {
  constructor(options: { settings?: ISettingRegistry.ISettings | null; serverSettings?: ServerConnection.ISettings }) {
    this._settings = options.settings ?? null;
    this._serverSettings = options.serverSettings ?? ServerConnection.makeSettings();
  }

  wasm(): Promise<KaptainWasm> {
    if (!this._wasm) {
      this._wasm = (async () => {
        // A chunk of its own: the wasm is fetched on the first %%kaptain cell or panel view.
        // The measure is what BENCHMARKS.md reports as activation (scripts/bench-extension.mjs).
        performance.mark('kaptain-wasm-start');
        const core = await import(/* webpackChunkName: "kaptain-wasm" */ 'kaptain-wasm');
        await core.default();
        performance.measure(WASM_LOAD_MEASURE, 'kaptain-wasm-start');
        return core;
      })();
      this._wasm.catch(() => (this._wasm = null));
    }
    return this._wasm;
  }

  buildWasm(): Promise<KaptainBuildWasm> {
    if (!this._buildWasm) {
      this._buildWasm = (async () => {
        const core = await import(/* webpackChunkName: "kaptain-wasm-build" */ 'kaptain-wasm/build/kaptain.js');
        await core.default();
        return core;
      })();
      this._buildWasm.catch(() => (this._buildWasm = null));
    }
    return this._buildWasm;
  }

  async s3Route(): Promise<{ route: string; endpoint: string } | undefined> {
    const server = await this.serverConfig();
    if (!server.s3Endpoint) {
      return undefined;
    }
    const base = this._serverSettings.baseUrl || PageConfig.getBaseUrl();
    return { route: URLExt.join(base, 'kaptain', 's3'), endpoint: server.s3Endpoint };
  }

  secretCopyRoute(): string {
    return URLExt.join(this._serverSettings.baseUrl || PageConfig.getBaseUrl(), 'kaptain', 'secret-copy');
  }

  async readFiles(notebook: string, paths: string[], maxBytes: number): Promise<Record<string, Uint8Array>> {
    // The server's own route, not the Contents API: it keeps to the server's root (no link out
    // of it is followed) and refuses a context over the limit before it reads a byte.
    const url = URLExt.join(this._serverSettings.baseUrl, 'kaptain', 'context');
    const response = await ServerConnection.makeRequest(
      url,
      { method: 'POST', body: JSON.stringify({ dir: PathExt.dirname(notebook), paths, maxBytes }) },
      this._serverSettings
    );
    if (!response.ok) {
      const refused = (await response.json().catch(() => ({}))) as { message?: string; fix?: string };
      const what = refused.message ?? `the Jupyter server could not read the model's files (${response.status})`;
      throw new Error(refused.fix ? `${what}; ${refused.fix}` : what);
    }
    return contextFiles(await response.arrayBuffer());
  }

  async notebookServer(): Promise<string> {
    return (await this.serverConfig()).notebookServer;
  }

  async cluster(): Promise<ClusterOptions & { namespace?: string }> {
    const server = await this.serverConfig();
    const settings = this.userSettings();
    const base = this._serverSettings.baseUrl || PageConfig.getBaseUrl();
    return {
      server: URLExt.join(base, server.proxyPath),
      headers: jupyterHeaders(this._serverSettings.token, document.cookie),
      namespace: resolveNamespace(server, settings),
      watch: settings.watch
    };
  }

  async env(): Promise<Record<string, string>> {
    return resolveEnv((await this.serverConfig()).env, this.userSettings());
  }

  async settings(): Promise<string | undefined> {
    return this.userSettings().config.trim() || undefined;
  }

  /** The server's part, asked once per page. */
  serverConfig(): Promise<ServerConfig> {
    if (!this._server) {
      this._server = (async () => {
        const url = URLExt.join(this._serverSettings.baseUrl, 'kaptain', 'config');
        const response = await ServerConnection.makeRequest(url, {}, this._serverSettings);
        if (!response.ok) {
          throw new Error(
            `kaptain: the server extension did not answer ${url} (${response.status}); ` +
              'is kaptain-jupyterlab installed in the environment JupyterLab runs from?'
          );
        }
        return (await response.json()) as ServerConfig;
      })();
      this._server.catch(() => (this._server = null));
    }
    return this._server;
  }

  private userSettings(): KaptainSettings {
    const composite = (this._settings?.composite ?? {}) as Partial<KaptainSettings>;
    return { ...DEFAULT_SETTINGS, ...composite };
  }

  private _settings: ISettingRegistry.ISettings | null;
  private _serverSettings: ServerConnection.ISettings;
  private _buildWasm: Promise<KaptainBuildWasm> | null = null;
  private _wasm: Promise<KaptainWasm> | null = null;
  private _server: Promise<ServerConfig> | null = null;
}
