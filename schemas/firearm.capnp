# Firearm description shared by requests, responses and alerts: the marking
# rules of the UN Firearms Protocol (art. 8) and ITI paragraphs 7-8.
@0xe364831302051bca;

$import "/capnp/c++.capnp".namespace("fpx::wire");

enum SerialState {
  intact @0;
  obliterated @1;
  partlyRestored @2;
}

enum FirearmType {
  unspecified @0;
  revolver @1;
  selfLoadingPistol @2;
  rifleCarbine @3;
  shotgun @4;
  subMachineGun @5;
  assaultRifle @6;
  lightMachineGun @7;
  heavyMachineGun @8;
  grenadeLauncher @9;
  mortarUnder100mm @10;
  other @11;
}

struct ImportMarking {
  country @0 :Text;
  # ISO 3166-1 alpha-2; empty if unmarked.
  year @1 :UInt16;
  # 0 if not marked.
}

struct ComponentSerials {
  frame @0 :Text;
  slide @1 :Text;
  barrel @2 :Text;
}

struct Firearm {
  serialNumber @0 :Text;
  # As marked.
  serialState @1 :SerialState;
  manufacturer @2 :Text;
  # As marked.
  countryOfManufacture @3 :Text;
  # ISO 3166-1 alpha-2.
  placeOfManufacture @4 :Text;
  model @5 :Text;
  type @6 :FirearmType;
  calibre @7 :Text;
  # Calibre or gauge, e.g. "7.62x39mm" or "12 gauge".
  importMarking @8 :ImportMarking;
  stateStockMarking @9 :Text;
  yearOfManufacture @10 :UInt16;
  # 0 if unknown.
  otherMarkings @11 :Text;
  componentSerials @12 :ComponentSerials;
  privatelyMade @13 :Bool;
  # Privately made or 3D-printed.
  converted @14 :Bool;
  reactivated @15 :Bool;
}
