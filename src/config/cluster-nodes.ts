/**
 * Redis Cluster seed nodes as written in the config (`store.cluster_nodes: ["10.0.0.1:7000"]`).
 * Parsed once here so config validation and the store factory agree on what a node is.
 */

export interface ClusterNode {
  host: string;
  port: number;
}

/** "host:port", "[v6]:port"; null when malformed or the port is out of range. */
export function parseClusterNode(text: string): ClusterNode | null {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text.trim());
  if (!match) return null;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (match[1] ?? match[2]) as string, port };
}
