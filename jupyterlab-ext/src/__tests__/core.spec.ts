// core.ts: how the page asks the Jupyter server for a build context's files, and the server's
// identity it passes on. The server's side of /kaptain/context is tested in
// tests/test_server.py (pytest, a real Jupyter server); here its answer as the page reads it.
import { describe, expect, it } from '@jest/globals';
import { ServerConnection } from '@jupyterlab/services';

import { contextFiles, CONTEXT_FILES_TYPE, KaptainCore } from '../core';

/** An answer as kaptain_jupyterlab/context.py frames it. */
function framed(files: [string, Uint8Array][], missing: string[] = []): ArrayBuffer {
  const manifest = new TextEncoder().encode(
    JSON.stringify({ files: files.map(([path, bytes]) => ({ path, size: bytes.length })), missing })
  );
  const total = 4 + manifest.length + files.reduce((n, [, b]) => n + b.length, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, manifest.length);
  out.set(manifest, 4);
  let offset = 4 + manifest.length;
  for (const [, bytes] of files) {
    out.set(bytes, offset);
    offset += bytes.length;
  }
  return out.buffer;
}

/** The part of a fetch Request that ServerConnection.makeRequest builds and sets headers on. */
class FakeRequest {
  readonly headers = new Map<string, string>() as Map<string, string> & { append(k: string, v: string): void };
  constructor(
    readonly url: string,
    readonly init: RequestInit
  ) {
    this.headers.append = (k: string, v: string) => void this.headers.set(k, v);
  }
}

/** A KaptainCore whose Jupyter server answers with `answer` and records what it was asked. */
function coreAnswering(answer: (request: FakeRequest) => unknown) {
  const asked: FakeRequest[] = [];
  const serverSettings = {
    baseUrl: 'http://hub.example.org/user/alice/',
    init: { cache: 'no-store' },
    token: '',
    Request: FakeRequest,
    fetch: async (request: FakeRequest) => {
      asked.push(request);
      return answer(request);
    }
  } as unknown as ServerConnection.ISettings;
  return { core: new KaptainCore({ serverSettings }), asked };
}

class FakeResponse {
  constructor(
    private body: ArrayBuffer | string,
    readonly status = 200
  ) {}
  get ok() {
    return this.status < 300;
  }
  async arrayBuffer() {
    return this.body as ArrayBuffer;
  }
  async json() {
    return JSON.parse(this.body as string);
  }
}

describe('the files of a build context', () => {
  it('are read from the framed answer, bytes as they are', () => {
    const binary = Uint8Array.from([0, 1, 2, 255]);
    const files = contextFiles(framed([['trainer.py', new TextEncoder().encode('print()\n')], ['data/x.bin', binary]], ['absent.txt']));
    expect(Object.keys(files)).toEqual(['trainer.py', 'data/x.bin']);
    expect(new TextDecoder().decode(files['trainer.py'])).toBe('print()\n');
    expect([...files['data/x.bin']]).toEqual([0, 1, 2, 255]);
  });

  it('an answer longer than its files is refused', () => {
    const buffer = framed([['a', Uint8Array.from([1])]]);
    const longer = new Uint8Array(buffer.byteLength + 3);
    longer.set(new Uint8Array(buffer));
    expect(() => contextFiles(longer.buffer)).toThrow('3 bytes more than its files');
  });

  it("come from the server's own route, beside the notebook, with the core's limit", async () => {
    const { core, asked } = coreAnswering(() => new FakeResponse(framed([['trainer.py', Uint8Array.from([1])]])));
    const files = await core.readFiles('work/demo/mnist.ipynb', ['trainer.py', 'src/model.py'], 1234);
    expect(Object.keys(files)).toEqual(['trainer.py']);
    expect(asked).toHaveLength(1);
    expect(asked[0].url.startsWith('http://hub.example.org/user/alice/kaptain/context')).toBe(true);
    expect(asked[0].init.method).toBe('POST');
    expect(JSON.parse(asked[0].init.body as string)).toEqual({ dir: 'work/demo', paths: ['trainer.py', 'src/model.py'], maxBytes: 1234 });
    expect(CONTEXT_FILES_TYPE).toBe('application/vnd.kaptain.context-files');
  });

  it("a refusal is told with the server's reason and fix", async () => {
    const refusal = JSON.stringify({ message: "data.csv: leads outside the Jupyter server's root (to /var/run/secrets/token)", fix: 'copy the file' });
    const { core } = coreAnswering(() => new FakeResponse(refusal, 400));
    await expect(core.readFiles('demo/mnist.ipynb', ['data.csv'], 10)).rejects.toThrow(
      "data.csv: leads outside the Jupyter server's root (to /var/run/secrets/token); copy the file"
    );
  });
});

describe('the notebook server', () => {
  it('is what /kaptain/config says', async () => {
    const config = { env: {}, namespace: 'team', namespaceFrom: null, proxyPath: 'kube', notebookServer: '/user/alice/' };
    const { core, asked } = coreAnswering(() => new FakeResponse(JSON.stringify(config)));
    expect(await core.notebookServer()).toBe('/user/alice/');
    expect(await core.notebookServer()).toBe('/user/alice/');
    expect(asked.filter(a => a.url.includes('/kaptain/config'))).toHaveLength(1);
  });
});
