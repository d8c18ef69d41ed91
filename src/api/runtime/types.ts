/**
 * The contract between the local runtime (`weft up`) and the control plane: the workloads the control
 * plane asks for (from Deployments and Workloads), and the instances the runtime reports running, in
 * `<state>/instances.json`, as the kubelet reports pods. Neither side imports the other.
 */

/** The protocol a service port speaks, from appProtocol, then the port name's prefix, then tcp. */
export type PortProtocol = 'http1' | 'http2' | 'grpc' | 'tcp' | 'detect';

export interface InstancePortModel {
  name: string | undefined;
  /** The declared port (containerPort): what services' targetPort and original destinations name. */
  containerPort: number;
  /** The port the application really listens on: containerPort, or the PORT given in explicit mode. */
  port: number;
  /** Explicit mode: the port the instance's sidecar accepts inbound traffic for this port on. */
  inboundPort?: number | undefined;
}

/** One running copy of a workload (a pod, on Kubernetes). */
export interface InstanceModel {
  id: string;
  namespace: string;
  workload: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** The instance's address: its network namespace's IP (transparent) or 127.0.0.1 (explicit). */
  address: string;
  ports: InstancePortModel[];
  ready: boolean;
  /** How the instance's sidecar is reached and what it listens on. */
  sidecar: SidecarModel;
  /**
   * The edge (`weft demo`, `weft up --expose`): services this instance's sidecar serves on a local
   * listener, a TCP port (explicit mode) or a Unix socket the runtime forwards a host port to.
   */
  expose?: Array<{ service: string; port: number; listen: { port: number } | { path: string } }> | undefined;
}

export type SidecarModel =
  | { mode: 'transparent'; adminSocket: string }
  | { mode: 'explicit'; adminPort: number; httpProxyPort: number; adminSocket?: string | undefined };

/** A workload as declared (Deployment or Workload), what the runtime turns into instances. */
export interface WorkloadModel {
  /** "Deployment/default/reviews-v1". */
  resource: string;
  namespace: string;
  name: string;
  replicas: number;
  labels: Record<string, string>;
  serviceAccount: string;
  command: string[];
  env: Record<string, string>;
  workingDir: string | undefined;
  ports: Array<{ name: string | undefined; port: number; protocol: PortProtocol | undefined }>;
  readiness:
    | {
        httpGet?: { path: string; port: number } | undefined;
        tcpSocket?: { port: number } | undefined;
        periodMs: number;
        timeoutMs: number;
        initialDelayMs: number;
      }
    | undefined;
}
