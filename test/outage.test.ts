import type { Outage } from '../src/migration/contracts';
import { outageAfterRollback, outageOf, outageTimes } from '../src/migration/outage';

const at = (seconds: number) => new Date(Date.UTC(2026, 11, 2, 10, 0, seconds)).toISOString();

describe("the customer's outage, by the guest's clock", () => {
  const direct: Outage = outageOf({
    stopDocker: { stoppedAt: at(0) } as never,
    acceptance: { answeredAt: at(20) } as never,
  })!;

  it('runs from the stop of Docker until the direct install answered', () => {
    expect(direct).toEqual({ ms: 20_000, dockerStoppedAt: at(0), directAnsweredAt: at(20) });
    expect(outageTimes(direct)).toBe(`Docker stopped ${at(0)}, the direct gateway and panel answered ${at(20)}`);
  });

  it('of a run rolled back before the direct install answered: until Docker answered again', () => {
    const outage = outageAfterRollback(undefined, at(0), { dockerAnsweredAt: at(45) });
    expect(outage).toEqual({ ms: 45_000, dockerStoppedAt: at(0), dockerAnsweredAt: at(45) });
    expect(outageTimes(outage!)).toBe(`Docker stopped ${at(0)}, Docker's answered again ${at(45)}`);
  });

  it('of a run rolled back after the direct install served: only the two gaps count', () => {
    // served from 20 s until the rollback stopped it at 50 s (a rejection), Docker back at 58 s
    const outage = outageAfterRollback(direct, at(0), { directStoppedAt: at(50), dockerAnsweredAt: at(58) });
    expect(outage).toEqual({ ...direct, ms: 28_000, directStoppedAt: at(50), dockerAnsweredAt: at(58) });
    expect(outageTimes(outage!)).toBe(
      `Docker stopped ${at(0)}, the direct gateway and panel answered ${at(20)}, ` +
        `the rollback stopped them ${at(50)}, Docker's answered again ${at(58)}`,
    );
  });

  it('of a run whose direct services were down by the rollback: from their first answer, the most it can be', () => {
    const outage = outageAfterRollback(direct, at(0), { dockerAnsweredAt: at(58) });
    expect(outage).toEqual({ ...direct, ms: 58_000, dockerAnsweredAt: at(58) });
    expect(outageTimes(outage!)).toBe(
      `Docker stopped ${at(0)}, the direct gateway and panel answered ${at(20)}, they were down by the rollback, ` +
        `Docker's answered again ${at(58)}`,
    );
  });

  it('stands as it was when the rollback did not time its end', () => {
    // workers before the rollback was timed; a rollback before C (nothing stopped), or not as far as Docker yet
    expect(outageAfterRollback(direct, at(0), {})).toBe(direct);
    expect(outageAfterRollback(undefined, undefined, {})).toBeUndefined();
    expect(outageAfterRollback(undefined, at(0), { directStoppedAt: at(30) })).toBeUndefined();
    // a guest clock stepped back
    expect(outageAfterRollback(undefined, at(30), { dockerAnsweredAt: at(10) })).toBeUndefined();
  });
});
