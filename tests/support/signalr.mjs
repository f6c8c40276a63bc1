// What the Node suites share about the official @microsoft/signalr client.
import * as signalR from '@microsoft/signalr';

/** The three transports, by the name a test title shows: every transport test loops over these. */
export const TRANSPORTS = [
  ['WebSockets', signalR.HttpTransportType.WebSockets],
  ['ServerSentEvents', signalR.HttpTransportType.ServerSentEvents],
  ['LongPolling', signalR.HttpTransportType.LongPolling],
];
