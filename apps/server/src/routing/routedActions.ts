// RoomActions that run where the room lives: on this node directly, on another through the bus (the request and
// response in the Twirp method's own protobuf messages). The node that hosts the room answers with its own checks
// and errors, which come back as the same ServiceError.
import { RoomServiceMethods } from '@kite/protocol';
import { ROOM_ACTIONS, type RoomAction, type RoomActions } from '../api/roomService.js';
import { ServiceError, errRoomNotFound } from '../errors.js';
import type { Bus } from './bus.js';
import type { Router } from './router.js';

type AnyAction = (req: unknown) => Promise<unknown>;

const isAction = (m: string): m is RoomAction => (ROOM_ACTIONS as readonly string[]).includes(m);

/** The room a request is about (CreateRoom names it `name`). */
function roomOf(req: unknown): string {
  const r = req as { room?: string; name?: string };
  return r.room ?? r.name ?? '';
}

export function routedActions(router: Router, bus: Bus, local: RoomActions, timeoutMs?: number): RoomActions {
  const routed = {} as Record<RoomAction, AnyAction>;
  for (const method of ROOM_ACTIONS) {
    const codec = RoomServiceMethods[method];
    routed[method] = async (req) => {
      const node = await router.hostOf(roomOf(req), method === 'CreateRoom');
      if (!node) throw method === 'CreateRoom' ? new ServiceError('unavailable', 'no node can host the room') : errRoomNotFound();
      if (node === router.nodeId) return (local[method] as AnyAction)(req);
      const answer = await bus.request(node, method, codec.request.encode(req as never), timeoutMs);
      return codec.response.decode(answer);
    };
  }
  return routed as RoomActions;
}

/** Answers the actions other nodes route here, with this node's own RoomActions. */
export function serveActions(bus: Bus, local: RoomActions): void {
  bus.serve(async (method, payload) => {
    if (!isAction(method)) throw new ServiceError('bad_route', `unknown action ${method}`);
    const codec = RoomServiceMethods[method];
    const res = await (local[method] as AnyAction)(codec.request.decode(payload));
    return codec.response.encode(res as never);
  });
}
