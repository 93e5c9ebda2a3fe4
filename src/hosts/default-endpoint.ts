// The node's default NBD endpoint (tzero serve --nbd): one address for the
// host connections made without -nbd on every storage image of the node, in
// one worker thread that runs the core on each image. Export names there:
//
//   HOST/VOLUME         a host of the node's first image   prod/1000
//   HOST/IMAGE/VOLUME   a host of any image, first or not  prod/IBM.2107-75SITEB/1000
//
// Host names are unique within an image (and hold no /: host-map.ts) and image IDs within a node, so
// HOST/IMAGE/VOLUME cannot collide across images; HOST/VOLUME stays for the
// first image, where a one-image node's clients have always connected, and
// HOST/IMAGE/VOLUME is what that image's exports already took as their fully
// qualified name. A host's address (lshostconnect) is the endpoint's followed
// by the part before VOLUME.
import type { StorageImage } from "../engine/image.js";
import type { HostMap } from "./host-map.js";
import { NbdEndpoint, parseEndpoint, type NbdLog } from "./nbd-endpoint.js";
import type { NbdExport } from "./nbd-handshake.js";

export class DefaultEndpoint {
  private constructor(
    private readonly endpoint: NbdEndpoint,
    private readonly maps: () => readonly HostMap[], // the node's images' host maps, first image first
    readonly requested: string, // as given to tzero serve --nbd: a load listens there again
  ) {}

  // Resolves once it listens, with every current image's hosts reached through it.
  static async start(maps: () => readonly HostMap[], text: string, log: NbdLog): Promise<DefaultEndpoint> {
    const current = maps();
    const endpoint = await NbdEndpoint.start(current.map((map) => map.image), parseEndpoint(text), exportsOf(current), "default endpoint", log);
    const started = new DefaultEndpoint(endpoint, maps, text);
    for (const map of current) map.defaultEndpoint = started;
    return started;
  }

  get address(): string {
    return this.endpoint.address;
  }

  // The part of a host's export names before the volume ID.
  hostPath(image: StorageImage, hostName: string): string {
    return this.maps()[0]?.image === image ? hostName : `${hostName}/${image.id}`;
  }

  // An image added to the node (mksi): its hosts are reached here too.
  addImage(map: HostMap): void {
    map.defaultEndpoint = this;
    this.endpoint.addImage(map.image);
    this.refresh();
  }

  // Sends the worker every image's exports again: after any change of hosts, groups, volumes or relationships.
  refresh(): void {
    this.endpoint.setExports(exportsOf(this.maps()));
  }

  async close(): Promise<void> {
    for (const map of this.maps()) if (map.defaultEndpoint === this) map.defaultEndpoint = null;
    await this.endpoint.close();
  }
}

function exportsOf(maps: readonly HostMap[]): NbdExport[] {
  return maps.flatMap((map, index) => map.hostsWithoutEndpoint().flatMap((host) => host.exports.map((volume) => {
    const qualified = `${host.name}/${map.image.id}/${volume.name}`;
    return { ...volume, name: index === 0 ? `${host.name}/${volume.name}` : qualified, fullName: qualified };
  })));
}
