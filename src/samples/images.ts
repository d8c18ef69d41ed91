/**
 * Which sample program stands in for which container image, so Weft's local runtime can run Istio's
 * manifests unchanged: it looks up a container's image here and starts `node <program>` with `env`
 * (plus its own PORT, HOSTNAME, HTTP_PROXY…) instead of pulling the image. Plain data, no imports, so
 * the runtime and the docs can read it without loading any sample.
 *
 * - `port` is the port the image listens on (the container port the manifests declare).
 * - `args: true`: the container's `args` are passed to the program (tcp-echo takes its ports and prefix).
 * - `useCommand: true`: no program; the manifest's own command runs as is (curl/sleep images run
 *   `/bin/sleep infinity` and are used through `weft exec`-style commands).
 * Images not listed (databases, fortio, ext-authz, the OpenTelemetry collector…) have no stand-in.
 */

export interface SampleImage {
  /** Entry file, relative to the repository root. */
  program?: string;
  env?: Readonly<Record<string, string>>;
  port?: number;
  args?: boolean;
  useCommand?: boolean;
}

const BOOKINFO = 'src/samples/bookinfo';

/** Image repository (registry host included, no tag or digest) → stand-in. */
export const SAMPLE_IMAGES: Readonly<Record<string, SampleImage>> = {
  'registry.istio.io/release/examples-bookinfo-productpage-v1': {
    program: `${BOOKINFO}/productpage.ts`,
    env: {},
    port: 9080,
  },
  'registry.istio.io/release/examples-bookinfo-details-v1': {
    program: `${BOOKINFO}/details.ts`,
    env: { SERVICE_VERSION: 'v1' },
    port: 9080,
  },
  'registry.istio.io/release/examples-bookinfo-details-v2': {
    program: `${BOOKINFO}/details.ts`,
    env: { SERVICE_VERSION: 'v2', ENABLE_EXTERNAL_BOOK_SERVICE: 'true' },
    port: 9080,
  },
  'registry.istio.io/release/examples-bookinfo-reviews-v1': {
    program: `${BOOKINFO}/reviews.ts`,
    env: { SERVICE_VERSION: 'v1', ENABLE_RATINGS: 'false', STAR_COLOR: 'black' },
    port: 9080,
  },
  'registry.istio.io/release/examples-bookinfo-reviews-v2': {
    program: `${BOOKINFO}/reviews.ts`,
    env: { SERVICE_VERSION: 'v2', ENABLE_RATINGS: 'true', STAR_COLOR: 'black' },
    port: 9080,
  },
  'registry.istio.io/release/examples-bookinfo-reviews-v3': {
    program: `${BOOKINFO}/reviews.ts`,
    env: { SERVICE_VERSION: 'v3', ENABLE_RATINGS: 'true', STAR_COLOR: 'red' },
    port: 9080,
  },
  'registry.istio.io/release/examples-bookinfo-ratings-v1': {
    program: `${BOOKINFO}/ratings.ts`,
    env: { SERVICE_VERSION: 'v1' },
    port: 9080,
  },
  'registry.istio.io/release/examples-bookinfo-ratings-v2': {
    program: `${BOOKINFO}/ratings.ts`,
    env: { SERVICE_VERSION: 'v2' },
    port: 9080,
  },
  'registry.istio.io/release/examples-helloworld-v1': {
    program: 'src/samples/helloworld/server.ts',
    env: { SERVICE_VERSION: 'v1' },
    port: 5000,
  },
  'registry.istio.io/release/examples-helloworld-v2': {
    program: 'src/samples/helloworld/server.ts',
    env: { SERVICE_VERSION: 'v2' },
    port: 5000,
  },
  'registry.istio.io/release/tcp-echo-server': {
    program: 'src/samples/tcp-echo/server.ts',
    env: {},
    port: 9000,
    args: true,
  },
  'docker.io/mccutchen/go-httpbin': { program: 'src/samples/httpbin/server.ts', env: {}, port: 8080 },
  // The stand-in's own default is go-httpbin's 8080; kennethreitz/httpbin listens on 80 (gunicorn -b
  // 0.0.0.0:80, which Istio's mirroring task and the Service's targetPort 80 rely on). The manifest's env
  // and, in explicit mode, the runtime's PORT still win.
  'docker.io/kennethreitz/httpbin': {
    program: 'src/samples/httpbin/server.ts',
    env: { PORT: '80' },
    port: 80,
  },
  'docker.io/curlimages/curl': { useCommand: true },
};

/**
 * Looks an image reference up: drops the tag and digest, adds Docker Hub's default registry and
 * `library/` namespace, and maps the older `docker.io/istio/<name>` repositories onto
 * `registry.istio.io/release/<name>` (the same images, published in both places).
 */
export function sampleForImage(image: string): SampleImage | undefined {
  let ref = image.split('@')[0] ?? '';
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > lastSlash) ref = ref.slice(0, colon);
  const first = ref.split('/')[0] ?? '';
  if (!ref.includes('/')) ref = `docker.io/library/${ref}`;
  else if (!first.includes('.') && !first.includes(':') && first !== 'localhost') ref = `docker.io/${ref}`;
  if (ref.startsWith('docker.io/istio/'))
    ref = `registry.istio.io/release/${ref.slice('docker.io/istio/'.length)}`;
  return SAMPLE_IMAGES[ref];
}
